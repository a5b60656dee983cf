namespace FairNad.Architecture.Tests;

public sealed class SpecTests
{
    /// <summary>A ResNet basic block with squeeze-and-excitation on the residual branch.</summary>
    private static ArchitectureSpec SeResNet(IReadOnlyList<NodeSpec>? nodes = null, string output = "out") => new(
        "se-resnet",
        new InputSpec(3, 32, 10),
        new StemSpec(StemKind.Conv, 16, 3, 1, "relu"),
        [new StageSpec(2, 16, DownsampleKind.None), new StageSpec(2, 32, DownsampleKind.StridedConv)],
        new BlockSpec(nodes ?? [
            new NodeSpec("c1", "conv", "input"),
            new NodeSpec("b1", "batch_norm", "c1"),
            new NodeSpec("a1", "act", "b1"),
            new NodeSpec("c2", "conv", "a1"),
            new NodeSpec("b2", "batch_norm", "c2"),
            new NodeSpec("se", "se", "b2"),
            new NodeSpec("sum", "add", "se", "input"),
            new NodeSpec("out", "act", "sum"),
        ], output),
        new HeadSpec("none", 0));

    [Fact]
    public void Id_RenamedAndReorderedNodesAndSwappedAddInputs_Unchanged()
    {
        var original = SeResNet();
        var renamed = SeResNet([
            new NodeSpec("x", "conv", "input"),
            new NodeSpec("z", "conv", "relu"),
            new NodeSpec("bn1", "batch_norm", "x"),
            new NodeSpec("relu", "act", "bn1"),
            new NodeSpec("bn2", "batch_norm", "z"),
            new NodeSpec("gate", "se", "bn2"),
            new NodeSpec("residual", "add", "input", "gate"),
            new NodeSpec("final", "act", "residual").With("fn", "relu"),
        ], "final") with { Name = "another name" };

        Assert.Equal(original.Id, renamed.Id);
        Assert.Equal(SpecJson.Canonical(original), SpecJson.Canonical(renamed));
        Assert.Matches("^[0-9a-f]{64}$", original.Id);
    }

    [Fact]
    public void Id_ChangedParameterOrConcatOrder_Differs()
    {
        var original = SeResNet();
        var nodes = original.Block.Nodes.ToList();
        nodes[0] = nodes[0].With("kernel", 5);

        Assert.NotEqual(original.Id, SeResNet(nodes).Id);
        Assert.NotEqual(original.Id, (original with { Stages = [new StageSpec(3, 16, DownsampleKind.None)] }).Id);
    }

    [Fact]
    public void Read_WrittenJson_RoundTripsToSameCanonicalForm()
    {
        var spec = SeResNet();

        var read = SpecJson.Read(SpecJson.Write(spec), "se-resnet.json");

        Assert.Equal(spec.Id, read.Id);
        Assert.Equal("se-resnet", read.Name);
        Assert.Equal(SpecJson.Write(spec), SpecJson.Write(read));
    }

    [Fact]
    public void Canonical_Numbers_AreNormalised()
    {
        var nodes = SeResNet().Block.Nodes.ToList();
        nodes[0] = nodes[0].With("out", 1.0).With("kernel", 3.0);

        var canonical = SpecJson.Canonical(SeResNet(nodes));

        Assert.Contains("\"kernel\":3,", canonical);
        Assert.Contains("\"out\":1,", canonical);
        Assert.DoesNotContain("\"name\"", canonical);
    }

    [Theory]
    [InlineData("""{"input":{"channels":3,"resolution":32,"classes":10}}""", "a.json: $: missing required field 'stem'")]
    [InlineData("""{"input":{"channels":"3","resolution":32,"classes":10},"stem":{},"head":{},"block":{"nodes":[],"output":"x"},"stages":[]}""", "a.json: $.input.channels: expected an integer")]
    [InlineData("""{"input":{"channels":3,"resolution":32,"classes":10,"depth":2},"stem":{},"head":{},"block":{},"stages":[]}""", "a.json: $.input: unknown field 'depth'")]
    [InlineData("""{"format":2}""", "a.json: $.format: version 2 is not supported")]
    [InlineData("{", "a.json: not valid JSON")]
    public void Read_BadJson_NamesFileAndPath(string json, string message)
    {
        var error = Assert.Throws<SpecFormatException>(() => SpecJson.Read(json, "a.json"));
        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public void Analyze_ConcatOfDifferentResolutions_ReportsNodeAndRule()
    {
        var spec = SeResNet([
            new NodeSpec("a", "conv", "input").With("stride", 2),
            new NodeSpec("b", "conv", "input"),
            new NodeSpec("cat", "concat", "b", "a"),
            new NodeSpec("proj", "conv", "cat").With("kernel", 1),
        ], "proj");

        var error = Assert.Single(ArchitectureAnalyzer.Analyze(spec).Errors);

        Assert.Equal("cat", error.NodeId);
        Assert.Equal("shape-mismatch", error.Rule);
        Assert.StartsWith("node 'cat' (concat): input shapes [16,32,32] and [16,16,16] differ in spatial size", error.ToString());
    }

    [Fact]
    public void Analyze_StructuralMistakes_ReportsEachWithItsRule()
    {
        var spec = SeResNet([
            new NodeSpec("a", "conv", "input").With("kernal", 3),
            new NodeSpec("b", "warp", "a"),
            new NodeSpec("c", "add", "a"),
            new NodeSpec("d", "act", "ghost").With("fn", "swishy"),
        ], "a");

        var rules = ArchitectureAnalyzer.Analyze(spec).Errors.Select(e => (e.NodeId, e.Rule)).ToList();

        Assert.Contains(("a", "unknown-param"), rules);
        Assert.Contains(("b", "unknown-op"), rules);
        Assert.Contains(("c", "arity"), rules);
        Assert.Contains(("d", "bad-param"), rules);
        Assert.Contains(("d", "unknown-input"), rules);
    }

    [Fact]
    public void Analyze_CycleAndDeadNode_Reported()
    {
        var cyclic = SeResNet([new NodeSpec("a", "act", "b"), new NodeSpec("b", "act", "a"), new NodeSpec("o", "add", "input", "b")], "o");
        var dead = SeResNet([new NodeSpec("a", "act", "input"), new NodeSpec("unused", "conv", "input")], "a");

        Assert.Contains(ArchitectureAnalyzer.Analyze(cyclic).Errors, e => e.Rule == "cycle" && (e.Message.Contains("a -> b -> a") || e.Message.Contains("b -> a -> b")));
        Assert.Contains(ArchitectureAnalyzer.Analyze(dead).Errors, e => e.Rule == "dead-node" && e.NodeId == "unused");
    }

    [Fact]
    public void Analyze_BlockChangesWidth_ReportsOutputShape()
    {
        var spec = SeResNet([new NodeSpec("wide", "conv", "input").With("out", 2.0)], "wide");

        var error = Assert.Single(ArchitectureAnalyzer.Analyze(spec).Errors);

        Assert.Equal("output-shape", error.Rule);
        Assert.Contains("[32,32,32] but must keep the block's input shape [16,32,32]", error.Message);
    }

    [Fact]
    public void Analyze_SeResNet_CountsParametersByHand()
    {
        var analysis = ArchitectureAnalyzer.Analyze(SeResNet());

        // stem 3*16*9 + 32; block(C) = 2*(9C^2 + 2C) + SE(C, C/4): 2*C*(C/4) + C/4 + C.
        static long Block(long c) => (2 * ((9 * c * c) + (2 * c))) + (2 * c * (c / 4)) + (c / 4) + c;
        var expected = 464 + (2 * Block(16)) + ((16 * 32 * 9) + 64) + (2 * Block(32)) + ((32 * 10) + 10);
        Assert.True(analysis.IsValid, string.Join("; ", analysis.Errors));
        Assert.Equal(expected, analysis.Parameters);
        Assert.Equal(new Shape(32, 16, 16), analysis.Stages[1].NodeShapes["out"]);
        Assert.True(analysis.PeakActivationBytes >= 4L * 3 * 16 * 32 * 32);
    }
}
