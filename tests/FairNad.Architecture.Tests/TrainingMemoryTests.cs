namespace FairNad.Architecture.Tests;

public sealed class TrainingMemoryTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    [Fact]
    public void Footprint_VitAttendingOverEveryPixel_ThreeMatricesPerHeadPerBlock()
    {
        var vit = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("vit", Fashion), 20_000).Spec;
        var pixels = vit with { Stem = new StemSpec(StemKind.Conv, vit.Stem.Channels, 3, 1, "relu") };

        var footprint = TrainingMemory.Footprint(pixels);

        // Stage 0: 3 blocks over 28 x 28 = 784 tokens; stage 1 after patch merging: 3 blocks over 196; 4 heads (the default).
        Assert.Equal((3L * 3 * 4 * 784 * 784) + (3L * 3 * 4 * 196 * 196), footprint.AttentionElements);
        Assert.Equal(ArchitectureAnalyzer.Analyze(pixels).Parameters, footprint.Parameters);
    }

    [Fact]
    public void Footprint_ConvolutionalNetwork_NoAttentionAndGrowsWithWidth()
    {
        var small = TrainingMemory.Footprint(WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("resnet", Fashion), 20_000).Spec);
        var large = TrainingMemory.Footprint(WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("resnet", Fashion), 100_000).Spec);

        Assert.Equal(0, small.AttentionElements);
        Assert.True(large.ActivationElements > small.ActivationElements);
    }

    [Fact]
    public void Footprint_InvertedResidual_CountsTheExpandedTensors()
    {
        var mobilenet = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("mobilenetv2", Fashion), 20_000).Spec;
        var narrow = mobilenet with { Block = mobilenet.Block with { Nodes = [.. mobilenet.Block.Nodes.Select(n => n.Op == "inverted_residual" ? n.With("expand", 1.0) : n)] } };

        Assert.True(TrainingMemory.Footprint(mobilenet).ActivationElements > 3 * TrainingMemory.Footprint(narrow).ActivationElements);
    }

    [Fact]
    public void Footprint_InvalidSpec_Throws()
    {
        var spec = ReferenceArchitectures.Get("resnet", Fashion);
        var broken = spec with { Block = spec.Block with { Output = "nowhere" } };

        Assert.Throws<Models.InvalidArchitectureException>(() => TrainingMemory.Footprint(broken));
    }
}
