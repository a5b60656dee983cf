using FairNad.Architecture.Transforms;

namespace FairNad.Architecture.Tests;

public sealed class SpecTransformTests
{
    /// <summary>Every transform with usable defaults; custom_operator needs a source (OperatorArchiveTests applies it).</summary>
    public static TheoryData<string> Names => new(SpecTransforms.All.Select(t => t.Name).Where(n => n != SpecTransforms.CustomOperatorTransform).Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Names))]
    public void Apply_EveryTransform_AppliesToSomeReferenceAndGivesAValidNewSpec(string name)
    {
        var applied = new List<string>();
        foreach (var reference in ReferenceArchitectures.Names)
        {
            var spec = ReferenceArchitectures.Get(reference);
            try
            {
                var result = SpecTransforms.Apply(name, spec);
                Assert.True(ArchitectureAnalyzer.Analyze(result.Spec).IsValid);
                Assert.NotEqual(spec.Id, result.Spec.Id);
                Assert.False(string.IsNullOrWhiteSpace(result.Summary));
                Assert.Equal(result.Spec.Id, SpecTransforms.Apply(name, spec).Spec.Id);
                applied.Add(reference);
            }
            catch (TransformNotApplicableException)
            {
            }
        }

        Assert.NotEmpty(applied);
    }

    [Fact]
    public void InsertRecalibration_Resnet_GateSitsBetweenBranchAndSum()
    {
        var result = SpecTransforms.Apply("insert_recalibration", ReferenceArchitectures.Get("resnet"), new Dictionary<string, ParamValue> { ["op"] = "eca" });

        var nodes = result.Spec.Block.Nodes.ToDictionary(n => n.Id);
        Assert.Equal(("eca", "b2"), (nodes["eca"].Op, nodes["eca"].Inputs[0]));
        Assert.Equal(["eca", "input"], nodes["sum"].Inputs);
        Assert.Equal("insert eca on the residual branch", result.Summary);
    }

    [Fact]
    public void AddResidual_BlockAlreadyResidual_NotApplicable()
    {
        var error = Assert.Throws<TransformNotApplicableException>(() => SpecTransforms.Apply("add_residual", ReferenceArchitectures.Get("resnet")));

        Assert.Contains("already adds the block input", error.Message);
    }

    [Fact]
    public void SeparableConv_Resnet_BothConvolutionsBecomeSeparable()
    {
        var result = SpecTransforms.Apply("separable_conv", ReferenceArchitectures.Get("resnet"));

        Assert.Equal(2, result.Spec.Block.Nodes.Count(n => n.Op == "sep_conv"));
        Assert.DoesNotContain(result.Spec.Block.Nodes, n => n.Op == "conv");
        Assert.True(ArchitectureAnalyzer.Analyze(result.Spec).Parameters < ArchitectureAnalyzer.Analyze(ReferenceArchitectures.Get("resnet")).Parameters);
    }

    [Fact]
    public void SwapActivation_SameFunction_NotApplicable()
    {
        Assert.Throws<TransformNotApplicableException>(() => SpecTransforms.Apply("swap_activation", ReferenceArchitectures.Get("resnet"), new Dictionary<string, ParamValue> { ["fn"] = "relu" }));
    }

    [Fact]
    public void WidenStage_Last_WiderLastStageOnly()
    {
        var spec = ReferenceArchitectures.Get("resnet");

        var result = SpecTransforms.Apply("widen_stage", spec, new Dictionary<string, ParamValue> { ["factor"] = 1.5 });

        Assert.Equal([16, 32, 96], result.Spec.Stages.Select(s => s.Width));
    }

    [Fact]
    public void Apply_UnknownTransformOrParameter_ArgumentErrorListsKnown()
    {
        Assert.Contains("known: add_attention", Assert.Throws<ArgumentException>(() => SpecTransforms.Apply("teleport", ReferenceArchitectures.Get("resnet"))).Message);
        Assert.Contains("has no parameter 'size'", Assert.Throws<ArgumentException>(() => SpecTransforms.Apply("larger_kernel", ReferenceArchitectures.Get("resnet"), new Dictionary<string, ParamValue> { ["size"] = 5 })).Message);
        Assert.Contains("must be one of se, eca", Assert.Throws<ArgumentException>(() => SpecTransforms.Apply("insert_recalibration", ReferenceArchitectures.Get("resnet"), new Dictionary<string, ParamValue> { ["op"] = "cbam" })).Message);
    }

    [Fact]
    public void AddAttention_OnConvBlock_ValidHybridBlock()
    {
        var result = SpecTransforms.Apply("add_attention", ReferenceArchitectures.Get("mobilenetv2"), new Dictionary<string, ParamValue> { ["heads"] = 2 });

        Assert.Equal(["attn_norm", "attn", "attn_sum"], result.Spec.Block.Nodes.Take(3).Select(n => n.Id));
        Assert.Contains(result.Spec.Block.Nodes, n => n.Id == "ir" && n.Inputs[0] == "attn_sum");
    }
}
