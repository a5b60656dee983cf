using FairNad.Architecture;
using FairNad.Architecture.Models;

namespace FairNad.Architecture.Tests;

/// <summary>Every operator, stem kind, downsampling step and the head is one definition that gives shape, cost and layer.</summary>
public sealed class OperatorDefinitionTests
{
    private static readonly Shape Input = new(16, 8, 8);

    [Fact]
    public void Operators_EveryDefinition_HasALayerCallOrACombination()
    {
        foreach (var op in Operators.All)
        {
            var node = new NodeSpec("n", op.Name, Enumerable.Repeat(BlockSpec.InputName, op.MinInputs).ToArray());
            var applied = op.Apply(new OperatorArguments(Enumerable.Repeat(Input, op.MinInputs).ToList(), Input.C, ArchitectureAnalyzer.WithDefaults(node, op)));

            Assert.True((applied.Layer is null) != (op.Combine is null), $"{op.Name}: exactly one of a layer call and a combination");
        }
    }

    [Fact]
    public void NetworkParts_EveryStemAndDownsampleKind_HasADefinition()
    {
        Assert.Equal(Enum.GetValues<StemKind>(), NetworkParts.Stems.Keys.Order());
        Assert.Equal(Enum.GetValues<DownsampleKind>(), NetworkParts.Downsamples.Keys.Order());
    }

    [Fact]
    public void Plan_LayerCalls_ComeFromTheDefinitionsThatGiveTheCosts()
    {
        var spec = ReferenceArchitectures.Get("vit");
        var plan = NetworkPlanner.Plan(spec);

        var stem = NetworkParts.Stem(plan.Canonical);
        Assert.Equal(stem.Layer!.ToCSharp(), plan.Stem.ToCSharp());
        var down = NetworkParts.Downsample(plan.Canonical.Stages[1].Downsample, new Shape(plan.Canonical.Stages[0].Width, plan.Analysis.Stages[0].Resolution, plan.Analysis.Stages[0].Resolution), plan.Canonical.Stages[1].Width);
        Assert.Equal(down!.Layer!.ToCSharp(), plan.Stages[1].Downsample!.ToCSharp());
        var head = NetworkParts.Head.Apply(plan.Canonical, new Shape(plan.Canonical.Stages[^1].Width, 1, 1));
        Assert.Equal(head.Layer!.ToCSharp(), plan.Head.ToCSharp());
    }

    /// <summary>
    /// The walk-through of "Adding an operator" (docs/architectures.md): a definition written here, outside the library, is all the
    /// analysis, the planner, the code writer and the training-memory estimate need; it reuses the <c>Conv</c> layer, so no layer implementation is new.
    /// </summary>
    [Fact]
    public void Apply_TestLocalDefinition_GivesShapeCostAndLayerCallFromOneObject()
    {
        var pointwise = new OperatorDefinition("pointwise", "1 x 1 convolution to a ratio of the block width", 1, 1, false,
            [new ParamSchema("out", ParamKind.Number, 2.0, "output channels as a ratio of the block width", 1e-3, 64)],
            a =>
            {
                var cout = a.Channels("out");
                var weights = (long)a.Input.C * cout;
                return new(a.Input with { C = cout }, weights, weights * a.Input.H * a.Input.W,
                    new LayerCall("Conv", ("inChannels", a.Input.C), ("outChannels", cout), ("kernel", 1), ("stride", 1), ("dilation", 1), ("groups", 1), ("bias", false)));
            },
            (_, output) => new(output.Elements, 0));
        var node = new NodeSpec("p", "pointwise", "input");

        var applied = pointwise.Apply(new OperatorArguments([Input], Input.C, ArchitectureAnalyzer.WithDefaults(node, pointwise)));

        Assert.Equal(new Shape(32, 8, 8), applied.Output);
        Assert.Equal(16 * 32, applied.Parameters);
        Assert.Equal(16L * 32 * 8 * 8, applied.Macs);
        Assert.Equal("Layers.Conv(inChannels: 16, outChannels: 32, kernel: 1, stride: 1, dilation: 1, groups: 1, bias: false)", applied.Layer!.ToCSharp());
        Assert.Equal(new SavedForBackward(32 * 8 * 8, 0), pointwise.Saved(new OperatorArguments([Input], Input.C, ArchitectureAnalyzer.WithDefaults(node, pointwise)), applied.Output));
    }
}
