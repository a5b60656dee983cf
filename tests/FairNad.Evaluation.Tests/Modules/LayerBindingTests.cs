using System.Reflection;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests.Modules;

/// <summary>The typed bindings of <see cref="LayerFactory"/> against <see cref="Layers"/> and the definitions' layer calls.</summary>
public sealed class LayerBindingTests
{
    public static TheoryData<string> StemAndDownsampleCases => new(
        Enum.GetValues<StemKind>().Select(k => $"stem {k}").Concat(Enum.GetValues<DownsampleKind>().Where(k => k != DownsampleKind.None).Select(k => $"down {k}")));

    /// <summary>The generated code calls <c>Layers.X(name: value, ...)</c>: the binding's names must be the method's own.</summary>
    [Fact]
    public void Bindings_EveryLayersFactory_IsBoundWithItsParameterNames()
    {
        var factories = typeof(Layers).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(nn.Module<Tensor, Tensor>)).ToList();

        Assert.Equal(factories.Select(m => m.Name).Order(StringComparer.Ordinal), LayerFactory.Bindings.Keys.Order(StringComparer.Ordinal));
        Assert.All(factories, m => Assert.Equal(m.GetParameters().Select(p => p.Name), LayerFactory.Bindings[m.Name].Parameters));
    }

    [Theory]
    [MemberData(nameof(StemAndDownsampleCases))]
    public void Create_EveryStemAndDownsample_MatchesAnalyticParametersAndShape(string name)
    {
        TorchRuntime.Configure(1, 1);
        var spec = ReferenceArchitectures.Get("resnet");
        var image = new Shape(spec.Input.Channels, spec.Input.Resolution, spec.Input.Resolution);
        var (applied, input) = name switch
        {
            "stem Conv" => (NetworkParts.Stem(spec), image),
            "stem Patchify" => (NetworkParts.Stem(spec with { Stem = spec.Stem with { Kind = StemKind.Patchify, Kernel = 4, Stride = 4 } }), image),
            _ => (NetworkParts.Downsample(Enum.Parse<DownsampleKind>(name["down ".Length..]), new Shape(16, 8, 8), 32)!, new Shape(16, 8, 8)),
        };

        using var layer = LayerFactory.Create(applied.Layer!);
        layer.eval();
        using var output = layer.forward(torch.randn(2, input.C, input.H, input.W));

        Assert.Equal(applied.Parameters, layer.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { 2, applied.Output.C, applied.Output.H, applied.Output.W }, output.shape);
    }

    [Theory]
    [InlineData("none", 0.0)]
    [InlineData("relu", 0.2)]
    public void Create_Head_MatchesAnalyticParameters(string preActivation, double dropout)
    {
        TorchRuntime.Configure(1, 1);
        var spec = ReferenceArchitectures.Get("resnet");
        var applied = NetworkParts.Head.Apply(spec with { Head = new HeadSpec(preActivation, dropout) }, new Shape(64, 8, 8));

        using var layer = LayerFactory.Create(applied.Layer!);
        layer.eval();
        using var output = layer.forward(torch.randn(2, 64, 8, 8));

        Assert.Equal(applied.Parameters, layer.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { 2, spec.Input.Classes }, output.shape);
    }

    [Fact]
    public void Create_UnknownFactory_ThrowsNamingIt()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LayerFactory.Create(new LayerCall("Nonexistent")));

        Assert.Contains("'Nonexistent'", error.Message);
    }
}
