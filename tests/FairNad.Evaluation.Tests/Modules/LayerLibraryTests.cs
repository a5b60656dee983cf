using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests.Modules;

public sealed class LayerLibraryTests
{
    private static readonly Shape Input = new(16, 8, 8);

    /// <summary>Every single-input operator with default and non-default parameters.</summary>
    public static TheoryData<string> Cases => new(CaseNodes().Select(c => c.Key));

    private static Dictionary<string, NodeSpec> CaseNodes()
    {
        var cases = new List<NodeSpec>
        {
            new("a", "conv", "input"),
            new NodeSpec("b", "conv", "input").With("kernel", 5).With("stride", 2).With("out", 2.0).With("bias", true),
            new NodeSpec("c", "conv", "input").With("depthwise", true).With("dilation", 2),
            new NodeSpec("d", "conv", "input").With("groups", 4).With("out", 0.5).With("kernel", 1),
            new("e", "relu_conv_bn", "input"),
            new NodeSpec("f", "relu_conv_bn", "input").With("kernel", 1).With("stride", 2).With("out", 1.5),
            new("g", "sep_conv", "input"),
            new NodeSpec("h", "sep_conv", "input").With("kernel", 5).With("stride", 2).With("out", 2.0).With("act", "gelu"),
            new("i", "inverted_residual", "input"),
            new NodeSpec("j", "inverted_residual", "input").With("expand", 1.0).With("stride", 2).With("out", 1.5).With("kernel", 5),
            new("k", "max_pool", "input"),
            new NodeSpec("l", "max_pool", "input").With("stride", 2),
            new NodeSpec("m", "avg_pool", "input").With("kernel", 5),
            new("n", "global_avg_pool", "input"),
            new("o", "identity", "input"),
            new("p", "zero", "input"),
            new("q", "batch_norm", "input"),
            new("r", "layer_norm", "input"),
            new("s", "instance_norm", "input"),
            new NodeSpec("t", "group_norm", "input").With("groups", 4),
            new("u", "se", "input"),
            new NodeSpec("v", "se", "input").With("reduction", 16.0),
            new("w", "eca", "input"),
            new("x", "spatial_attention", "input"),
            new NodeSpec("y", "channel_shuffle", "input").With("groups", 4),
            new NodeSpec("z", "split", "input").With("parts", 4).With("part", 2),
            new("aa", "mhsa", "input"),
            new NodeSpec("ab", "mhsa", "input").With("heads", 8).With("bias", false),
            new("ac", "token_mlp", "input"),
            new NodeSpec("ad", "token_mlp", "input").With("ratio", 2.0),
            new("ae", "channel_mlp", "input"),
            new NodeSpec("af", "channel_mlp", "input").With("ratio", 0.5).With("out", 2.0).With("act", "relu"),
            new("ag", "pos_embed", "input"),
            new("ah", "layer_scale", "input"),
            new("ai", "dropout", "input"),
            new("aj", "drop_path", "input"),
            new("ak", "window_mhsa", "input"),
            new NodeSpec("al", "window_mhsa", "input").With("window", 3).With("shift", true).With("heads", 2),
            new NodeSpec("am", "window_mhsa", "input").With("window", 16).With("shift", true).With("heads", 8).With("bias", false),
        };
        cases.AddRange(Operators.Activations.Select(fn => new NodeSpec("act_" + fn, "act", "input").With("fn", fn)));
        return cases.ToDictionary(n => $"{n.Op} {string.Join(" ", n.Params.Select(p => $"{p.Key}={p.Value}"))}".Trim(), StringComparer.Ordinal);
    }

    [Fact]
    public void Cases_CoverEverySingleInputOperator()
    {
        var covered = CaseNodes().Values.Select(n => n.Op).ToHashSet(StringComparer.Ordinal);
        var missing = Operators.All.Where(o => o.MaxInputs == 1 && !covered.Contains(o.Name)).Select(o => o.Name).ToList();

        Assert.Empty(missing);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Create_EveryOperator_MatchesAnalyticParametersAndShape(string name)
    {
        TorchRuntime.Configure(1, 1);
        var node = CaseNodes()[name];
        var op = Operators.Get(node.Op);
        var expected = op.Apply(new OperatorArguments([Input], Input.C, ArchitectureAnalyzer.WithDefaults(node, op)));

        using var layer = LayerFactory.Create(NetworkPlanner.LayerFor(node, [Input], Input.C)!);
        layer.eval();
        using var input = torch.randn(2, Input.C, Input.H, Input.W);
        using var output = layer.forward(input);

        Assert.Equal(expected.Parameters, layer.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { 2, expected.Output.C, expected.Output.H, expected.Output.W }, output.shape);
        Assert.True(output.isfinite().all().item<bool>());
    }

    [Fact]
    public void Create_ArgumentsThatDoNotMatchTheFactory_ThrowsNamingTheFactory()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LayerFactory.Create(new LayerCall("Conv", ("inChannels", 3))));

        Assert.Contains("Layers.Conv(inChannels, outChannels, kernel", error.Message);
    }

    [Fact]
    public void DropPath_Training_DropsWholeSamplesAndRescalesTheRest()
    {
        TorchRuntime.Configure(1, 3);
        using var layer = Layers.DropPath(0.5);
        layer.train();
        using var output = layer.forward(torch.ones(64, 2, 2, 2));

        var perSample = output.flatten(1);
        var dropped = perSample.eq(0).all(1).sum().item<long>();
        var kept = perSample.eq(2).all(1).sum().item<long>();
        Assert.Equal(64, dropped + kept);
        Assert.InRange(dropped, 16, 48);
        layer.eval();
        Assert.True(layer.forward(torch.ones(4, 2)).eq(1).all().item<bool>());
    }
}

public sealed class NormalizationInitTests
{
    public static TheoryData<string> Norms => new(["BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm"]);

    /// <summary>Guards against TorchSharp 0.107's GroupNorm, which leaves weight and bias uninitialised.</summary>
    [Theory]
    [MemberData(nameof(Norms))]
    public void Create_Normalization_StartsAtUnitScaleAndZeroShift(string factory)
    {
        TorchRuntime.EnsureLoaded();
        var call = factory == "GroupNorm" ? new LayerCall(factory, ("groups", 4), ("channels", 16)) : new LayerCall(factory, ("channels", 16));

        using var layer = LayerFactory.Create(call);

        var parameters = layer.named_parameters().ToDictionary(p => p.name.Split('.')[^1], p => p.parameter);
        Assert.True(parameters["weight"].eq(1).all().item<bool>(), $"{factory} weight");
        Assert.True(parameters["bias"].eq(0).all().item<bool>(), $"{factory} bias");
    }
}
