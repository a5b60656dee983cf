using System.Globalization;
using FairNad.Architecture.Models;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Modules;

/// <summary>One factory of <see cref="Layers"/>: its name, its parameter names in order, and a typed call of it.</summary>
public sealed record LayerBinding(string Factory, IReadOnlyList<string> Parameters, Func<object[], nn.Module<Tensor, Tensor>> Create);

/// <summary>
/// Executes the <see cref="LayerCall"/>s of a plan against <see cref="Layers"/> through a typed table: each entry names a
/// factory's parameters once and calls the method group, so the compiler checks the types and no reflection is involved.
/// The generated code binds the same calls by C# named arguments; a test checks that the names here are the methods' own.
/// </summary>
public static class LayerFactory
{
    private static readonly Dictionary<string, LayerBinding> Table = new LayerBinding[]
    {
        Bind<int, int, int, int, int, int, bool>(nameof(Layers.Conv), Layers.Conv, "inChannels", "outChannels", "kernel", "stride", "dilation", "groups", "bias"),
        Bind<int, int, int, int, int>(nameof(Layers.ReluConvBn), Layers.ReluConvBn, "inChannels", "outChannels", "kernel", "stride", "dilation"),
        Bind<int, int, int, int, string>(nameof(Layers.SepConv), Layers.SepConv, "inChannels", "outChannels", "kernel", "stride", "activation"),
        Bind<int, int, int, int, int, bool, string>(nameof(Layers.InvertedResidual), Layers.InvertedResidual, "inChannels", "hidden", "outChannels", "kernel", "stride", "expansion", "activation"),
        Bind<int, int>(nameof(Layers.MaxPool), Layers.MaxPool, "kernel", "stride"),
        Bind<int, int>(nameof(Layers.AvgPool), Layers.AvgPool, "kernel", "stride"),
        Bind(nameof(Layers.GlobalAvgPool), Layers.GlobalAvgPool),
        Bind(nameof(Layers.Identity), Layers.Identity),
        Bind(nameof(Layers.Zero), Layers.Zero),
        Bind<int>(nameof(Layers.BatchNorm), Layers.BatchNorm, "channels"),
        Bind<int>(nameof(Layers.LayerNorm), Layers.LayerNorm, "channels"),
        Bind<int>(nameof(Layers.InstanceNorm), Layers.InstanceNorm, "channels"),
        Bind<int, int>(nameof(Layers.GroupNorm), Layers.GroupNorm, "groups", "channels"),
        Bind<string>(nameof(Layers.Activation), Layers.Activation, "function"),
        Bind<int, int>(nameof(Layers.SqueezeExcite), Layers.SqueezeExcite, "channels", "squeezed"),
        Bind<int>(nameof(Layers.EfficientChannelAttention), Layers.EfficientChannelAttention, "kernel"),
        Bind<int>(nameof(Layers.SpatialAttention), Layers.SpatialAttention, "kernel"),
        Bind<int>(nameof(Layers.ChannelShuffle), Layers.ChannelShuffle, "groups"),
        Bind<int, int>(nameof(Layers.Split), Layers.Split, "parts", "part"),
        Bind<int, int, bool>(nameof(Layers.SelfAttention), Layers.SelfAttention, "channels", "heads", "bias"),
        Bind<int, int, int, int, bool>(nameof(Layers.WindowAttention), Layers.WindowAttention, "channels", "heads", "window", "shift", "bias"),
        Bind<int, int>(nameof(Layers.TokenMlp), Layers.TokenMlp, "tokens", "hidden"),
        Bind<int, int, int, string>(nameof(Layers.ChannelMlp), Layers.ChannelMlp, "inChannels", "hidden", "outChannels", "activation"),
        Bind<int, int, int>(nameof(Layers.PositionalEmbedding), Layers.PositionalEmbedding, "channels", "height", "width"),
        Bind<int, double>(nameof(Layers.LayerScale), Layers.LayerScale, "channels", "init"),
        Bind<double>(nameof(Layers.Dropout), Layers.Dropout, "p"),
        Bind<double>(nameof(Layers.DropPath), Layers.DropPath, "p"),
        Bind<int, int, int, int, string>(nameof(Layers.ConvStem), Layers.ConvStem, "inChannels", "channels", "kernel", "stride", "activation"),
        Bind<int, int, int>(nameof(Layers.PatchifyStem), Layers.PatchifyStem, "inChannels", "channels", "patch"),
        Bind<int, int>(nameof(Layers.StridedConvDownsample), Layers.StridedConvDownsample, "inChannels", "outChannels"),
        Bind<int, int>(nameof(Layers.ResidualReduction), Layers.ResidualReduction, "inChannels", "outChannels"),
        Bind<int, int>(nameof(Layers.PatchMerging), Layers.PatchMerging, "inChannels", "outChannels"),
        Bind<int, int>(nameof(Layers.AvgPoolConvDownsample), Layers.AvgPoolConvDownsample, "inChannels", "outChannels"),
        Bind<string, int, int, int>(nameof(Layers.Custom), Layers.Custom, "source", "inChannels", "outChannels", "stride"),
        Bind<int, int, string, double>(nameof(Layers.ClassifierHead), Layers.ClassifierHead, "channels", "classes", "preActivation", "dropout"),
    }.ToDictionary(b => b.Factory, StringComparer.Ordinal);

    /// <summary>Every bound factory, by name.</summary>
    public static IReadOnlyDictionary<string, LayerBinding> Bindings => Table;

    /// <exception cref="InvalidOperationException">no factory has the call's name, or its arguments are not the factory's parameters.</exception>
    public static nn.Module<Tensor, Tensor> Create(LayerCall call)
    {
        var binding = Table.GetValueOrDefault(call.Factory) ?? throw new InvalidOperationException($"Layers has no factory '{call.Factory}'");
        var byName = call.Arguments.ToDictionary(a => a.Name, a => a.Value, StringComparer.Ordinal);
        if (binding.Parameters.Count != byName.Count || !binding.Parameters.All(byName.ContainsKey))
        {
            throw new InvalidOperationException($"Layers.{call.Factory}({string.Join(", ", binding.Parameters)}) does not match the call {call.ToCSharp()}");
        }

        return binding.Create(binding.Parameters.Select(p => byName[p]).ToArray());
    }

    private static T Arg<T>(object value) => (T)Convert.ChangeType(value, typeof(T), CultureInfo.InvariantCulture);

    private static LayerBinding Bind(string factory, Func<nn.Module<Tensor, Tensor>> create) => new(factory, [], _ => create());

    private static LayerBinding Bind<T1>(string factory, Func<T1, nn.Module<Tensor, Tensor>> create, string p1) =>
        new(factory, [p1], v => create(Arg<T1>(v[0])));

    private static LayerBinding Bind<T1, T2>(string factory, Func<T1, T2, nn.Module<Tensor, Tensor>> create, string p1, string p2) =>
        new(factory, [p1, p2], v => create(Arg<T1>(v[0]), Arg<T2>(v[1])));

    private static LayerBinding Bind<T1, T2, T3>(string factory, Func<T1, T2, T3, nn.Module<Tensor, Tensor>> create, string p1, string p2, string p3) =>
        new(factory, [p1, p2, p3], v => create(Arg<T1>(v[0]), Arg<T2>(v[1]), Arg<T3>(v[2])));

    private static LayerBinding Bind<T1, T2, T3, T4>(string factory, Func<T1, T2, T3, T4, nn.Module<Tensor, Tensor>> create, string p1, string p2, string p3, string p4) =>
        new(factory, [p1, p2, p3, p4], v => create(Arg<T1>(v[0]), Arg<T2>(v[1]), Arg<T3>(v[2]), Arg<T4>(v[3])));

    private static LayerBinding Bind<T1, T2, T3, T4, T5>(
        string factory, Func<T1, T2, T3, T4, T5, nn.Module<Tensor, Tensor>> create, string p1, string p2, string p3, string p4, string p5) =>
        new(factory, [p1, p2, p3, p4, p5], v => create(Arg<T1>(v[0]), Arg<T2>(v[1]), Arg<T3>(v[2]), Arg<T4>(v[3]), Arg<T5>(v[4])));

    private static LayerBinding Bind<T1, T2, T3, T4, T5, T6, T7>(
        string factory, Func<T1, T2, T3, T4, T5, T6, T7, nn.Module<Tensor, Tensor>> create, string p1, string p2, string p3, string p4, string p5, string p6, string p7) =>
        new(factory, [p1, p2, p3, p4, p5, p6, p7], v => create(Arg<T1>(v[0]), Arg<T2>(v[1]), Arg<T3>(v[2]), Arg<T4>(v[3]), Arg<T5>(v[4]), Arg<T6>(v[5]), Arg<T7>(v[6])));
}
