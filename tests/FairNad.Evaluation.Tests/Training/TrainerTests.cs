using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation.Training;
using TorchSharp;

namespace FairNad.Evaluation.Tests.Training;

public sealed class TrainerTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    /// <summary>A ResNet reference shrunk to about 20k parameters: trains in about a second on 300 images.</summary>
    internal static ArchitectureSpec Tiny() => WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("resnet", Fashion), 20_000).Spec;

    internal static TrainingConfig Small(long seed = 3) =>
        new(Epochs: 2, BatchSize: 50, LearningRate: 0.05, TrainSubset: 300, ValidationSubset: 100, Seed: seed, LatencyRepeats: 2);

    internal static DatasetSplits Splits() => DatasetCatalog.Load("fashion-mnist", Path.Combine(Path.GetTempPath(), "fairnad-no-data"));

    [Fact]
    public void Evaluate_SameSpecSeedAndData_BitIdenticalMetrics()
    {
        var config = Small();
        using var data = TensorData.Prepare(Splits(), config);

        var first = Trainer.Evaluate(Tiny(), data, config);
        var second = Trainer.Evaluate(Tiny(), data, config);

        Assert.Equal("ok", first.Status);
        Assert.Equal(first.TrainLoss, second.TrainLoss);
        Assert.Equal(first.ValidationAccuracy, second.ValidationAccuracy);
        Assert.Equal(first.TestAccuracy, second.TestAccuracy);
        Assert.Equal(2, first.TrainLoss.Count);
        Assert.True(first.BitExact);
    }

    /// <summary>
    /// The normalisation statistics are reductions whose rounding depends on the thread count; computed before the
    /// threads were pinned they made the first candidate of a process (and every isolated worker) differ from the rest.
    /// </summary>
    [Fact]
    public void Prepare_AfterAnotherThreadCount_PinsTheConfiguredThreadsFirst()
    {
        var config = Small();
        torch.set_num_threads(2);

        using var data = TensorData.Prepare(Splits(), config);

        Assert.Equal(config.Threads, torch.get_num_threads());
    }

    [Fact]
    public void Problem_UnknownDevice_NamesIt() =>
        Assert.Equal("device must be cpu, cuda or cuda:<index>, not 'gpu'", (Small() with { Device = "gpu" }).Problem());

    [Fact]
    public void Evaluate_CpuDevice_RecordedAndBitExact()
    {
        var config = Small() with { Device = "cpu" };
        using var data = TensorData.Prepare(Splits(), config);

        var result = Trainer.Evaluate(Tiny(), data, config);

        Assert.Equal(("ok", "cpu", true), (result.Status, result.Device, result.BitExact));
    }

    [Fact]
    public void Evaluate_OtherSeed_DifferentRun()
    {
        var config = Small();
        using var data = TensorData.Prepare(Splits(), config);

        var first = Trainer.Evaluate(Tiny(), data, config);
        var other = Trainer.Evaluate(Tiny(), data, config with { Seed = 4 });

        Assert.NotEqual(first.TrainLoss, other.TrainLoss);
    }

    [Fact]
    public void Evaluate_Tiny_ReportsEveryMetric()
    {
        var config = Small() with { Epochs = 3 };
        using var data = TensorData.Prepare(Splits(), config);

        var result = Trainer.Evaluate(Tiny(), data, config);

        Assert.Equal("ok", result.Status);
        Assert.Equal(ArchitectureAnalyzer.Analyze(Tiny()).Parameters, result.Parameters);
        Assert.True(result.Macs > 0);
        Assert.Equal(3, result.ValidationAccuracy.Count);
        Assert.Equal(result.ValidationAccuracy.Max(), result.BestValidationAccuracy);
        Assert.Equal(result.ValidationAccuracy[^1], result.LastValidationAccuracy);
        Assert.InRange(result.TestAccuracy!.Value, 0, 100);
        Assert.True(result.TrainLoss[^1] < result.TrainLoss[0], "loss should fall");
        Assert.True(result.LatencyBatch1Ms > 0 && result.LatencyBatch64Ms > result.LatencyBatch1Ms);
        Assert.True(result.ImagesPerSecond > 0);
        Assert.Contains("Fashion-MNIST", result.DataSource, StringComparison.Ordinal);
        Assert.Equal(result.ToJson(), EvaluationResult.Parse(result.ToJson(), "doc").ToJson());
    }

    [Fact]
    public void Train_SeveralEpochs_LiveTensorCountStable()
    {
        var config = Small() with { Epochs = 4 };
        using var data = TensorData.Prepare(Splits(), config);
        var live = new List<long>();

        var result = Trainer.Evaluate(Tiny(), data, config, e => live.Add(e.LiveTensors));

        Assert.Equal("ok", result.Status);
        Assert.Equal(4, live.Count);
        Assert.Equal(live[1], live[3]);
    }

    [Fact]
    public void Evaluate_HugeLearningRate_FailsAsDivergedWithReason()
    {
        var config = Small() with { LearningRate = 1e9 };
        using var data = TensorData.Prepare(Splits(), config);

        var result = Trainer.Evaluate(Tiny(), data, config);

        Assert.Equal(("failed", "diverged"), (result.Status, result.FailureCategory));
        Assert.Contains("training loss became", result.FailureMessage);
    }

    [Fact]
    public void Evaluate_CifarSpecOnFashionMnist_InputMismatchNamesBoth()
    {
        var config = Small();
        using var data = TensorData.Prepare(Splits(), config);

        var result = Trainer.Evaluate(ReferenceArchitectures.Get("resnet"), data, config);

        Assert.Equal("input-mismatch", result.FailureCategory);
        Assert.Contains("expects input 3x32x32 with 10 classes, but fashion-mnist gives 1x28x28 with 10", result.FailureMessage);
    }

    [Fact]
    public void Prepare_Resolution_ResizesAndNormalises()
    {
        using var data = TensorData.Prepare(Splits(), Small() with { Resolution = 32 });

        Assert.Equal(new long[] { 300, 1, 32, 32 }, data.TrainX.shape);
        Assert.Equal(new InputSpec(1, 32, 10), data.Input);
        Assert.Equal(100, data.ValidX.shape[0]);
        Assert.InRange(data.TrainX.mean().item<float>(), -0.1f, 0.1f);
    }

    [Fact]
    public void Augment_SameGenerator_SameBatchAndShapeKept()
    {
        TorchRuntime.EnsureLoaded();
        using var x = torch.arange(2 * 3 * 8 * 8, dtype: torch.float32).reshape(2, 3, 8, 8);

        using var a = Trainer.Augment(x, new torch.Generator(5));
        using var b = Trainer.Augment(x, new torch.Generator(5));

        Assert.Equal(x.shape, a.shape);
        Assert.True(a.eq(b).all().item<bool>());
    }

    [Fact]
    public void Problem_BadConfig_NamesTheField()
    {
        Assert.Equal("epochs must be at least 1", (Small() with { Epochs = 0 }).Problem());
        Assert.Equal("momentum must lie in [0, 1)", (Small() with { Momentum = 1 }).Problem());
        Assert.Null(TrainingConfig.Full.Problem());
    }
}
