using FairNad.Architecture.Models;
using FairNad.Tests.Shared;

namespace FairNad.Architecture.Tests;

/// <summary>The <c>custom</c> operator: an LLM-written operator referenced from a spec by the SHA-256 of its source.</summary>
public sealed class CustomOperatorSpecTests
{
    /// <summary>A residual block whose first branch is the written operator at the block width.</summary>
    public static ArchitectureSpec WithOperator(string source, int stride = 1) => new(
        "written",
        new InputSpec(1, 28, 10),
        new StemSpec(StemKind.Conv, 8, 3, 1, "relu"),
        [new StageSpec(1, 8, DownsampleKind.None), new StageSpec(1, 16, DownsampleKind.StridedConv)],
        new BlockSpec([
            new NodeSpec("g", "custom", "input").With("source", source).With("stride", stride),
            new NodeSpec("sum", "add", "g", "input"),
            new NodeSpec("out", "act", "sum"),
        ], "out"),
        new HeadSpec("none", 0));

    [Fact]
    public void Hash_Source_Sha256OfUtf8WithPrefix()
    {
        var reference = OperatorSources.Hash(WrittenOperators.Ghost);

        Assert.True(OperatorSources.IsReference(reference));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(WrittenOperators.Ghost))), reference);
        Assert.Equal(reference[7..] + ".cs", OperatorSources.FileName(reference));
    }

    [Fact]
    public void Id_SameSourceSameId_OtherSourceOtherId()
    {
        var ghost = WithOperator(OperatorSources.Hash(WrittenOperators.Ghost));
        var again = WithOperator(OperatorSources.Hash(string.Concat(WrittenOperators.Ghost)));
        var gated = WithOperator(OperatorSources.Hash(WrittenOperators.GatedMlp));

        Assert.True(ArchitectureAnalyzer.Analyze(ghost).IsValid, string.Join("; ", ArchitectureAnalyzer.Analyze(ghost).Errors));
        Assert.Equal(ghost.Id, again.Id);
        Assert.NotEqual(ghost.Id, gated.Id);
        Assert.Contains(OperatorSources.Hash(WrittenOperators.Ghost), SpecJson.Canonical(ghost), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_WrittenSpec_SameIdAndReferences()
    {
        var spec = WithOperator(OperatorSources.Hash(WrittenOperators.Ghost), stride: 1);

        var read = SpecJson.Read(SpecJson.Write(spec), "written.json");

        Assert.Equal(spec.Id, read.Id);
        Assert.Equal([OperatorSources.Hash(WrittenOperators.Ghost)], OperatorSources.References(read));
    }

    [Theory]
    [InlineData("")]
    [InlineData("sha256:abc")]
    [InlineData("md5:0123456789abcdef0123456789abcdef")]
    [InlineData("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Analyze_SourceNotAReference_ErrorNamesNodeAndRule(string source)
    {
        var analysis = ArchitectureAnalyzer.Analyze(WithOperator(source));

        Assert.False(analysis.IsValid);
        var error = Assert.Single(analysis.Errors);
        Assert.Equal("g", error.NodeId);
        Assert.Equal("operator-source", error.Rule);
    }

    [Fact]
    public void Plan_CustomNode_LayerCallCarriesReferenceAndContract()
    {
        var reference = OperatorSources.Hash(WrittenOperators.Ghost);
        var spec = WithOperator(reference) with
        {
            Block = new BlockSpec([
                new NodeSpec("g", "custom", "input").With("source", reference).With("out", 2.0),
                new NodeSpec("p", "conv", "g").With("kernel", 1),
                new NodeSpec("sum", "add", "p", "input"),
            ], "sum"),
        };

        var plan = NetworkPlanner.Plan(spec, "test");

        var node = plan.Stages[0].Block.Nodes.Single(n => n.Op == "custom");
        Assert.Equal(new Shape(16, 28, 28), node.Output);
        Assert.Equal($"Layers.Custom(source: \"{reference}\", inChannels: 8, outChannels: 16, stride: 1)", node.Layer!.ToCSharp());
    }

    [Theory]
    [InlineData(7, 1, 7)]
    [InlineData(7, 2, 4)]
    [InlineData(8, 2, 4)]
    [InlineData(9, 3, 3)]
    public void Apply_Stride_OutputIsCeilOfInputOverStride(int size, int stride, int expected)
    {
        var values = new Dictionary<string, ParamValue> { ["source"] = OperatorSources.Hash(WrittenOperators.Ghost), ["stride"] = stride, ["out"] = 0.5 };

        var application = Operators.Custom.Apply(new OperatorArguments([new Shape(8, size, size)], 8, values));

        Assert.Equal(new Shape(4, expected, expected), application.Output);
        Assert.Equal(0, application.Parameters);
    }

    [Fact]
    public void Store_PutGet_ContentAddressedAndTamperRefused()
    {
        var directory = Path.Combine(Path.GetTempPath(), "fairnad-ops-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new OperatorStore(directory);
            var reference = store.Put(WrittenOperators.Ghost);
            Assert.Equal(reference, store.Put(WrittenOperators.Ghost));
            Assert.Equal(WrittenOperators.Ghost, store.Get(reference));

            File.AppendAllText(Path.Combine(directory, OperatorSources.FileName(reference)), "// edited\n");

            var e = Assert.Throws<InvalidDataException>(() => store.Get(reference));
            Assert.Contains("was changed", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
