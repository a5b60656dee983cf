using FairNad.Architecture;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Tests.Training;

public sealed class TrainingCheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// The tiny ResNet with head dropout (it draws from the default generator, which the checkpoint must carry) and
    /// augmentation on (it draws from the epoch's own generator), for 3 epochs.
    /// </summary>
    private static (ArchitectureSpec Spec, TrainingConfig Config) Job()
    {
        var tiny = TrainerTests.Tiny();
        return (tiny with { Head = tiny.Head with { Dropout = 0.3 } }, TrainerTests.Small() with { Epochs = 3, Augment = true });
    }

    [Fact]
    public void Evaluate_KilledAfterAnEpochThenResumed_BitIdenticalToUninterrupted()
    {
        var (spec, config) = Job();
        using var data = TensorData.Prepare(TrainerTests.Splits(), config);
        var path = Path.Combine(_directory, "job.ckpt");
        var uninterrupted = Trainer.Evaluate(spec, data, config);

        using var stop = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Evaluate(spec, data, config, e =>
        {
            if (e.Epoch == 1)
            {
                stop.Cancel();
            }
        }, stop.Token, path));
        var epochs = new List<int>();
        var resumed = Trainer.Evaluate(spec, data, config, e => epochs.Add(e.Epoch), checkpoint: path);

        Assert.Equal("ok", uninterrupted.Status);
        Assert.Equal([2, 3], epochs);
        Assert.Equal(uninterrupted.WeightsSha256, resumed.WeightsSha256);
        Assert.Equal(uninterrupted.TrainLoss, resumed.TrainLoss);
        Assert.Equal(uninterrupted.ValidationAccuracy, resumed.ValidationAccuracy);
        Assert.Equal(uninterrupted.TestAccuracy, resumed.TestAccuracy);
    }

    [Fact]
    public void Evaluate_CheckpointOfFinishedTraining_ReturnsTheSameResultWithoutTraining()
    {
        var (spec, config) = Job();
        using var data = TensorData.Prepare(TrainerTests.Splits(), config);
        var path = Path.Combine(_directory, "job.ckpt");
        var first = Trainer.Evaluate(spec, data, config, checkpoint: path);
        var epochs = new List<int>();

        var again = Trainer.Evaluate(spec, data, config, e => epochs.Add(e.Epoch), checkpoint: path);

        Assert.Empty(epochs);
        Assert.Equal(first.WeightsSha256, again.WeightsSha256);
        Assert.Equal(first.TrainLoss, again.TrainLoss);
        Assert.Equal(first.TestAccuracy, again.TestAccuracy);
    }

    [Fact]
    public void Evaluate_CheckpointOfAnotherConfig_RefusedNamingTheFile()
    {
        var (spec, config) = Job();
        var path = Path.Combine(_directory, "job.ckpt");
        using (var data = TensorData.Prepare(TrainerTests.Splits(), config with { Epochs = 1 }))
        {
            Trainer.Evaluate(spec, data, config with { Epochs = 1 }, checkpoint: path);
        }

        var written = File.ReadAllBytes(path);
        using var other = TensorData.Prepare(TrainerTests.Splits(), config);

        var e = Assert.Throws<CheckpointException>(() => Trainer.Evaluate(spec, other, config, checkpoint: path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("belongs to another training", e.Message, StringComparison.Ordinal);
        Assert.Equal(written, File.ReadAllBytes(path));
    }

    [Fact]
    public void Evaluate_NotACheckpoint_RefusedNamingTheFile()
    {
        var (spec, config) = Job();
        var path = Path.Combine(_directory, "job.ckpt");
        File.WriteAllText(path, "something else");
        using var data = TensorData.Prepare(TrainerTests.Splits(), config);

        var e = Assert.Throws<CheckpointException>(() => Trainer.Evaluate(spec, data, config, checkpoint: path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal("something else", File.ReadAllText(path));
    }
}
