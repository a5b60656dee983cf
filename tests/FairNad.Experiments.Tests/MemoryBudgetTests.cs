using FairNad.Architecture;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments.Tests;

public sealed class MemoryBudgetTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    /// <summary>The embedded Fashion-MNIST subset: 10,000 + 2,000 images of 784 pixels (the validation split comes out of train).</summary>
    private const long EmbeddedPixels = 12_000L * 784;

    private static readonly TrainingConfig Quickstart = new(Epochs: 1, BatchSize: 50, LearningRate: 0.05, TrainSubset: 1000, ValidationSubset: 500, LatencyRepeats: 3);

    private static ArchitectureSpec PixelAttention()
    {
        var vit = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("vit", Fashion), 20_000).Spec;
        return vit with { Stem = new StemSpec(StemKind.Conv, vit.Stem.Channels, 3, 1, "relu") };
    }

    [Fact]
    public async Task Evaluate_AttentionOverEveryPixelAtBatch50_RejectedBeforeTrainingWithThePrediction()
    {
        var inner = new SyntheticEvaluator();
        using var evaluator = new MemoryBudgetEvaluator(inner, "fashion-mnist", Quickstart, 4L << 30, EmbeddedPixels);

        var result = await evaluator.EvaluateAsync(PixelAttention());

        Assert.Equal((FailureCategories.MemoryBudget, 0), (result.FailureCategory, inner.Calls));
        Assert.StartsWith("predicted peak memory ", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("exceeds the budget of 4.0 GiB (evaluation.memoryMb) at batch 50", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(MemoryModel.Predict(PixelAttention(), Quickstart, EmbeddedPixels).Attention > 4L << 30);
    }

    [Fact]
    public async Task Evaluate_QuickstartSeeds_UnderTheBudgetAndTrained()
    {
        var inner = new SyntheticEvaluator();
        using var evaluator = new MemoryBudgetEvaluator(inner, "fashion-mnist", Quickstart, 4L << 30, EmbeddedPixels);

        foreach (var name in ReferenceArchitectures.Names)
        {
            var result = await evaluator.EvaluateAsync(WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(name, Fashion), 20_000).Spec);
            Assert.Equal("ok", result.Status);
        }

        Assert.Equal(ReferenceArchitectures.Names.Count, inner.Calls);
    }

    [Fact]
    public void Predict_SameInputs_SameBytesEveryTime()
    {
        var first = MemoryModel.Predict(PixelAttention(), Quickstart, EmbeddedPixels);

        Assert.Equal(first, MemoryModel.Predict(PixelAttention(), Quickstart, EmbeddedPixels));
        // Below the latency batch (64) the forward pass for latency sets the peak; above it, the batch does.
        Assert.True(MemoryModel.Predict(PixelAttention(), Quickstart with { BatchSize = 256 }, EmbeddedPixels).Total > first.Total);
    }
}
