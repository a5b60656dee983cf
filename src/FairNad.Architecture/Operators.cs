using FairNad.Architecture.Models;

namespace FairNad.Architecture;

/// <summary>A feature map: channels x height x width (one sample).</summary>
public readonly record struct Shape(int C, int H, int W)
{
    /// <exception cref="OverflowException">the count does not fit in 64 bits.</exception>
    public long Elements => checked((long)C * H * W);

    public override string ToString() => $"[{C},{H},{W}]";
}

public enum ParamKind
{
    Int,
    Number,
    Text,
    Flag,
}

/// <summary>A typed operator parameter with its default and allowed range or choices.</summary>
public sealed record ParamSchema(string Name, ParamKind Kind, ParamValue Default, string Description, double Min = double.MinValue, double Max = double.MaxValue, IReadOnlyList<string>? Choices = null);

/// <summary>
/// One operator applied to concrete inputs: the output shape, the cost, and the layer that implements it with every
/// derived size resolved (null for the combinations add, mul and concat, which have no module). The analysis reads the
/// shape and cost, the planner and the code writer the layer, so each size is computed once, here.
/// </summary>
public sealed record OperatorApplication(Shape Output, long Parameters, long Macs, LayerCall? Layer);

/// <summary>
/// What one operator application keeps per training sample for the backward pass (see <see cref="TrainingMemory"/>):
/// saved tensor elements, and separately the elements of attention matrices.
/// </summary>
public readonly record struct SavedForBackward(long Elements, long AttentionElements);

/// <summary>A shape rule was broken; <see cref="Rule"/> is a stable machine-readable code.</summary>
public sealed class ShapeRuleException(string rule, string message) : Exception(message)
{
    public string Rule { get; } = rule;
}

/// <summary>The parameters of one node, with defaults filled in from the operator's schema.</summary>
public sealed class OperatorArguments(IReadOnlyList<Shape> inputs, int blockWidth, IReadOnlyDictionary<string, ParamValue> values)
{
    public IReadOnlyList<Shape> Inputs { get; } = inputs;

    /// <summary>The stage width; channel parameters such as <c>out</c> are ratios of it.</summary>
    public int BlockWidth { get; } = blockWidth;

    public Shape Input => Inputs[0];

    public int Int(string name) => (int)values[name].Number!.Value;

    public double Number(string name) => values[name].Number!.Value;

    public string Text(string name) => values[name].Text!;

    public bool Flag(string name) => values[name].Flag!.Value;

    /// <summary>Channels for a ratio parameter: round(ratio x block width), at least 1.</summary>
    /// <exception cref="OverflowException">the count does not fit in an int.</exception>
    public int Channels(string ratioName) => Math.Max(1, checked((int)Math.Round(Number(ratioName) * BlockWidth, MidpointRounding.AwayFromZero)));
}

/// <summary>
/// An operator of the library, the one place that defines it: parameters, arity, and <see cref="Apply"/>, its shape
/// rule, cost and layer call. Its TorchSharp implementation is the layer factory the call names, bound in
/// <c>FairNad.Evaluation.Modules.LayerFactory</c>; see "Adding an operator" in docs/architectures.md.
/// </summary>
/// <param name="Saved">
/// What training keeps of one application, from its arguments and output shape, following its layer implementation. A
/// rule of its own rather than part of <see cref="Apply"/>: the analysis must not fail on a count only training needs.
/// </param>
/// <param name="Combine">How a combination operator joins its inputs; null for operators with a layer.</param>
public sealed record OperatorDefinition(
    string Name,
    string Description,
    int MinInputs,
    int MaxInputs,
    bool Commutative,
    IReadOnlyList<ParamSchema> Params,
    Func<OperatorArguments, OperatorApplication> Apply,
    Func<OperatorArguments, Shape, SavedForBackward> Saved,
    CombineKind? Combine = null);

/// <summary>
/// The operator library. Channel counts are ratios of the block width (<c>out: 1.0</c> = the stage width) so one block
/// design applies at every stage and under width scaling. Costs: parameters are trainable weights; MACs are
/// multiply-accumulates of convolutions, linear layers and attention products for one sample (normalisation,
/// activations, pooling and element-wise ops are not counted). Every rule computes in checked arithmetic: a count that
/// does not fit throws <see cref="OverflowException"/>, which the analyzer reports as a validation error of the node.
/// </summary>
public static class Operators
{
    public static readonly IReadOnlyList<string> Activations =
        ["relu", "relu6", "gelu", "silu", "hardswish", "leaky_relu", "mish", "sigmoid", "hardsigmoid", "tanh"];

    /// <summary>What the stem's activation and the head's pre-activation may be besides <see cref="Activations"/>: no activation.</summary>
    public const string NoActivation = "none";

    private static readonly Dictionary<string, OperatorDefinition> Library = Build().ToDictionary(o => o.Name, StringComparer.Ordinal);

    /// <summary>The fixed library (the operators the harness implements); <see cref="Custom"/> is not among them.</summary>
    public static IReadOnlyCollection<OperatorDefinition> All => Library.Values;

    /// <summary>
    /// The operator an LLM writes: a node <c>custom</c> whose <c>source</c> is the SHA-256 of the operator's C# source
    /// (<see cref="OperatorSources"/>), so the source is part of the candidate's id. The contract fixes the shape:
    /// <c>out</c> channels (a ratio of the block width, like every operator) at ceil(H / stride) x ceil(W / stride). The
    /// static analysis cannot know its cost, so it counts none; a worker measures it (see docs/architectures.md).
    /// </summary>
    public static OperatorDefinition Custom { get; } = new(
        OperatorSources.OperatorName,
        "an operator you write in C# (see the contract below): 'source' is the SHA-256 of its source, 'out' its output channels as a ratio of the block width, 'stride' its spatial step",
        1, 1, false,
        [new("source", ParamKind.Text, string.Empty, "sha256:<64 hex digits> of the operator's C# source"), Stride(), Out()],
        a =>
        {
            var source = a.Text("source");
            if (!OperatorSources.IsReference(source))
            {
                throw new ShapeRuleException("operator-source", $"source '{source}' is not a reference 'sha256:<64 lower-case hex digits>' to an operator's C# source");
            }

            var stride = a.Int("stride");
            var output = new Shape(a.Channels("out"), OperatorSources.Strided(a.Input.H, stride), OperatorSources.Strided(a.Input.W, stride));
            return new(output, 0, 0, new LayerCall("Custom", ("source", source), ("inChannels", a.Input.C), ("outChannels", output.C), ("stride", stride)));
        },
        SavesOutput);

    /// <summary>
    /// Library operators that the LLM's mutation prompt and format schema do not list yet. Recorded LLM exchanges are
    /// keyed by their prompt, which lists the operators (and the schema, too), so offering an operator changes every
    /// prompt and invalidates every recorded transcript (the quickstart replays some); an operator joins
    /// <see cref="Offered"/> when transcripts are recorded anew. Specs, references, analysis and training use them all.
    /// </summary>
    public static IReadOnlyList<string> NotYetOffered { get; } = [WindowAttentionName];

    /// <summary>The operators the LLM is offered (<see cref="All"/> less <see cref="NotYetOffered"/>).</summary>
    public static IEnumerable<OperatorDefinition> Offered => All.Where(o => !NotYetOffered.Contains(o.Name));

    /// <summary>The fixed library and <see cref="Custom"/>: every operator a spec may name.</summary>
    public static IEnumerable<OperatorDefinition> WithCustom => All.Append(Custom);

    public static OperatorDefinition? Find(string name) => name == OperatorSources.OperatorName ? Custom : Library.GetValueOrDefault(name);

    public static OperatorDefinition Get(string name) =>
        Find(name) ?? throw new KeyNotFoundException($"unknown operator '{name}'");

    /// <summary>Output spatial size of a k x k window with "same" padding (dilation·(k-1)/2) and the given stride.</summary>
    public static int SpatialOut(int size, int kernel, int stride, int dilation = 1)
    {
        checked
        {
            var padding = dilation * (kernel - 1) / 2;
            return ((size + (2 * padding) - (dilation * (kernel - 1)) - 1) / stride) + 1;
        }
    }

    private static ParamSchema Kernel(int value = 3) => new("kernel", ParamKind.Int, value, "window size (odd)", 1, 15);

    private static ParamSchema Stride() => new("stride", ParamKind.Int, 1, "step of the window", 1, 4);

    private static ParamSchema Out() => new("out", ParamKind.Number, 1.0, "output channels as a ratio of the block width", 1e-3, 64);

    private static ParamSchema Act(string value) => new("act", ParamKind.Text, value, "activation", Choices: Activations);

    private static ParamSchema Probability(double value) => new("p", ParamKind.Number, value, "probability", 0, 0.95);

    private static void RequireOddKernel(OperatorArguments a)
    {
        if (a.Int("kernel") % 2 == 0)
        {
            throw new ShapeRuleException("even-kernel", $"kernel {a.Int("kernel")} is even; 'same' padding needs an odd kernel");
        }
    }

    private static Shape Spatial(OperatorArguments a, int channels, int kernel, int stride, int dilation = 1)
    {
        var output = new Shape(channels, SpatialOut(a.Input.H, kernel, stride, dilation), SpatialOut(a.Input.W, kernel, stride, dilation));
        if (output.H < 1 || output.W < 1)
        {
            throw new ShapeRuleException("empty-output", $"input {a.Input} is too small for kernel {kernel}, stride {stride}");
        }

        return output;
    }

    private static void RequireSameShapes(OperatorArguments a, string what)
    {
        for (var i = 1; i < a.Inputs.Count; i++)
        {
            if (a.Inputs[i] != a.Inputs[0])
            {
                var differ = a.Inputs[i].H != a.Inputs[0].H || a.Inputs[i].W != a.Inputs[0].W ? "spatial size" : "channels";
                throw new ShapeRuleException("shape-mismatch", $"input shapes {a.Inputs[0]} and {a.Inputs[i]} differ in {differ}; {what} needs equal shapes");
            }
        }
    }

    private static void RequireDivisible(int channels, int by, string what)
    {
        if (by < 1 || channels % by != 0)
        {
            throw new ShapeRuleException("not-divisible", $"{channels} channels are not divisible by {what} {by}");
        }
    }

    /// <summary>The name of Swin's window attention operator.</summary>
    public const string WindowAttentionName = "window_mhsa";

    /// <summary>
    /// Window attention at the node's resolution: the window clamped to the smaller side, the shift (half the window, or 0
    /// when not asked for or when one window covers the whole map, as Swin does), and the positions of the map zero-padded
    /// to a multiple of the window (what the projections and the attention run over).
    /// </summary>
    public static (int Window, int Shift, long PaddedPositions) WindowLayout(int height, int width, int window, bool shift)
    {
        checked
        {
            var clamped = Math.Max(1, Math.Min(window, Math.Min(height, width)));
            var shifted = shift && (clamped < height || clamped < width) ? clamped / 2 : 0;
            long Pad(int size) => (size + clamped - 1) / clamped * (long)clamped;
            return (clamped, shifted, Pad(height) * Pad(width));
        }
    }

    private static (int Window, int Shift, long PaddedPositions) WindowLayout(OperatorArguments a) =>
        WindowLayout(a.Input.H, a.Input.W, a.Int("window"), a.Flag("shift"));

    /// <summary>Training keeps the output once.</summary>
    private static SavedForBackward SavesOutput(OperatorArguments a, Shape output) => new(output.Elements, 0);

    /// <summary>Views of the input (identity, split) keep nothing of their own.</summary>
    private static SavedForBackward SavesNothing(OperatorArguments a, Shape output) => new(0, 0);

    /// <summary>Hidden width of an expansion: round(size x ratio), at least 1.</summary>
    /// <exception cref="OverflowException">the width does not fit in an int.</exception>
    private static int Scaled(double size, double ratio) => Math.Max(1, checked((int)Math.Round(size * ratio, MidpointRounding.AwayFromZero)));

    private static IEnumerable<OperatorDefinition> Build()
    {
        checked
        {
            yield return new("conv", "k x k convolution; groups, dilation and depthwise (groups = input channels) supported; pointwise is kernel 1", 1, 1, false,
                [Kernel(), Stride(), new("dilation", ParamKind.Int, 1, "spacing of kernel taps", 1, 4), new("groups", ParamKind.Int, 1, "channel groups", 1, 1024),
                 new("depthwise", ParamKind.Flag, false, "one group per input channel"), Out(), new("bias", ParamKind.Flag, false, "add a learned bias")],
                a =>
                {
                    RequireOddKernel(a);
                    var cin = a.Input.C;
                    var cout = a.Channels("out");
                    var groups = a.Flag("depthwise") ? cin : a.Int("groups");
                    RequireDivisible(cin, groups, "groups");
                    RequireDivisible(cout, groups, "groups");
                    var (k, stride, dilation, bias) = (a.Int("kernel"), a.Int("stride"), a.Int("dilation"), a.Flag("bias"));
                    var output = Spatial(a, cout, k, stride, dilation);
                    var weights = (long)cout * (cin / groups) * k * k;
                    return new(output, weights + (bias ? cout : 0), weights * output.H * output.W,
                        new LayerCall("Conv", ("inChannels", cin), ("outChannels", cout), ("kernel", k), ("stride", stride), ("dilation", dilation), ("groups", groups), ("bias", bias)));
                },
                SavesOutput);

            yield return new("relu_conv_bn", "ReLU, k x k convolution (no bias), batch norm: NAS-Bench-201's nor_conv", 1, 1, false,
                [Kernel(), Stride(), new("dilation", ParamKind.Int, 1, "spacing of kernel taps", 1, 4), Out()],
                a =>
                {
                    RequireOddKernel(a);
                    var cout = a.Channels("out");
                    var (k, stride, dilation) = (a.Int("kernel"), a.Int("stride"), a.Int("dilation"));
                    var output = Spatial(a, cout, k, stride, dilation);
                    var weights = (long)cout * a.Input.C * k * k;
                    return new(output, weights + (2L * cout), weights * output.H * output.W,
                        new LayerCall("ReluConvBn", ("inChannels", a.Input.C), ("outChannels", cout), ("kernel", k), ("stride", stride), ("dilation", dilation)));
                },
                (a, o) => new(a.Input.Elements + (2 * o.Elements), 0));

            yield return new("sep_conv", "activation, depthwise k x k, pointwise 1 x 1, batch norm (depthwise-separable convolution)", 1, 1, false,
                [Kernel(), Stride(), Out(), Act("relu")],
                a =>
                {
                    RequireOddKernel(a);
                    var cin = a.Input.C;
                    var cout = a.Channels("out");
                    var (k, stride) = (a.Int("kernel"), a.Int("stride"));
                    var output = Spatial(a, cout, k, stride);
                    var depthwise = (long)cin * k * k;
                    var pointwise = (long)cin * cout;
                    return new(output, depthwise + pointwise + (2L * cout), (depthwise + pointwise) * output.H * output.W,
                        new LayerCall("SepConv", ("inChannels", cin), ("outChannels", cout), ("kernel", k), ("stride", stride), ("activation", a.Text("act"))));
                },
                (a, o) => new(a.Input.Elements + ((long)a.Input.C * o.H * o.W) + (2 * o.Elements), 0));

            yield return new("inverted_residual", "1 x 1 expansion-BN-act (skipped when expand is 1), depthwise k x k-BN-act, 1 x 1 projection-BN (MobileNetV2; add the residual with an add node)", 1, 1, false,
                [Kernel(), Stride(), new("expand", ParamKind.Number, 6.0, "expansion ratio of the hidden width", 1, 16), Out(), Act("relu6")],
                a =>
                {
                    RequireOddKernel(a);
                    var cin = a.Input.C;
                    var cout = a.Channels("out");
                    var hidden = Scaled(cin, a.Number("expand"));
                    var (k, stride) = (a.Int("kernel"), a.Int("stride"));
                    var output = Spatial(a, cout, k, stride);
                    var expands = !(hidden == cin && a.Number("expand") == 1);
                    var expansion = expands ? (long)cin * hidden : 0L;
                    var expansionNorm = expansion == 0 ? 0L : 2L * hidden;
                    var inputPixels = (long)a.Input.H * a.Input.W;
                    var outputPixels = (long)output.H * output.W;
                    var parameters = expansion + expansionNorm + ((long)hidden * k * k) + (2L * hidden) + ((long)hidden * cout) + (2L * cout);
                    var macs = (expansion * inputPixels) + ((long)hidden * k * k * outputPixels) + ((long)hidden * cout * outputPixels);
                    return new(output, parameters, macs,
                        new LayerCall("InvertedResidual", ("inChannels", cin), ("hidden", hidden), ("outChannels", cout), ("kernel", k), ("stride", stride),
                            ("expansion", expands), ("activation", a.Text("act"))));
                },
                (a, o) =>
                {
                    // The expanded tensor three times (conv, batch norm, activation) at each resolution.
                    long hidden = Scaled(a.Input.C, a.Number("expand"));
                    var expansion = a.Number("expand") == 1 ? 0 : 3 * hidden * a.Input.H * a.Input.W;
                    return new(expansion + (3 * hidden * o.H * o.W) + (2 * o.Elements), 0);
                });

            var pools = new (string Kind, string Factory, Func<OperatorArguments, Shape, SavedForBackward> Saved)[]
            {
                // Max pooling keeps its int64 indices too (two floats each).
                ("max", "MaxPool", (a, o) => new(3 * o.Elements, 0)),
                ("avg", "AvgPool", SavesOutput),
            };
            foreach (var (kind, factory, saved) in pools)
            {
                yield return new($"{kind}_pool", $"{kind} pooling over a k x k window, 'same' padding{(kind == "avg" ? ", padding excluded from the average" : string.Empty)}", 1, 1, false,
                    [Kernel(), Stride()],
                    a =>
                    {
                        RequireOddKernel(a);
                        var (k, stride) = (a.Int("kernel"), a.Int("stride"));
                        return new(Spatial(a, a.Input.C, k, stride), 0, 0, new LayerCall(factory, ("kernel", k), ("stride", stride)));
                    },
                    saved);
            }

            yield return new("global_avg_pool", "average over all positions: [C,H,W] -> [C,1,1]", 1, 1, false, [],
                a => new(new Shape(a.Input.C, 1, 1), 0, 0, new LayerCall("GlobalAvgPool")),
                SavesOutput);

            yield return new("identity", "the input unchanged (skip connection)", 1, 1, false, [], a => new(a.Input, 0, 0, new LayerCall("Identity")),
                SavesNothing);

            yield return new("zero", "zeros of the input's shape (no connection; NAS-Bench-201's none)", 1, 1, false, [], a => new(a.Input, 0, 0, new LayerCall("Zero")),
                SavesOutput);

            yield return new("batch_norm", "batch normalisation with learned scale and shift", 1, 1, false, [],
                a => new(a.Input, 2L * a.Input.C, 0, new LayerCall("BatchNorm", ("channels", a.Input.C))),
                SavesOutput);

            yield return new("layer_norm", "layer normalisation over channels at each position (ConvNeXt/ViT style)", 1, 1, false, [],
                a => new(a.Input, 2L * a.Input.C, 0, new LayerCall("LayerNorm", ("channels", a.Input.C))),
                (a, o) => new(2 * o.Elements, 0));

            yield return new("instance_norm", "instance normalisation with learned scale and shift", 1, 1, false, [],
                a => new(a.Input, 2L * a.Input.C, 0, new LayerCall("InstanceNorm", ("channels", a.Input.C))),
                SavesOutput);

            yield return new("group_norm", "group normalisation with learned scale and shift", 1, 1, false,
                [new("groups", ParamKind.Int, 8, "channel groups", 1, 1024)],
                a =>
                {
                    RequireDivisible(a.Input.C, a.Int("groups"), "groups");
                    return new(a.Input, 2L * a.Input.C, 0, new LayerCall("GroupNorm", ("groups", a.Int("groups")), ("channels", a.Input.C)));
                },
                SavesOutput);

            yield return new("act", "element-wise activation", 1, 1, false, [new("fn", ParamKind.Text, "relu", "activation function", Choices: Activations)],
                a => new(a.Input, 0, 0, new LayerCall("Activation", ("function", a.Text("fn")))),
                SavesOutput);

            yield return new("se", "squeeze-and-excitation: global pool, FC (C -> C/r), ReLU, FC (C/r -> C), sigmoid, channel scaling", 1, 1, false,
                [new("reduction", ParamKind.Number, 4.0, "squeeze ratio r", 1, 64)],
                a =>
                {
                    var c = a.Input.C;
                    var squeezed = Math.Max(1, (int)Math.Round(c / a.Number("reduction"), MidpointRounding.AwayFromZero));
                    return new(a.Input, (2L * c * squeezed) + squeezed + c, 2L * c * squeezed, new LayerCall("SqueezeExcite", ("channels", c), ("squeezed", squeezed)));
                },
                (a, o) => new(o.Elements + a.Input.C, 0));

            yield return new("eca", "efficient channel attention: global pool, 1-D convolution over channels (no bias), sigmoid, channel scaling", 1, 1, false,
                [Kernel()],
                a =>
                {
                    RequireOddKernel(a);
                    var k = a.Int("kernel");
                    return new(a.Input, k, (long)k * a.Input.C, new LayerCall("EfficientChannelAttention", ("kernel", k)));
                },
                (a, o) => new(o.Elements + a.Input.C, 0));

            yield return new("spatial_attention", "CBAM spatial attention: channel mean and max, k x k convolution (2 -> 1, no bias), sigmoid, spatial scaling", 1, 1, false,
                [Kernel(7)],
                a =>
                {
                    RequireOddKernel(a);
                    var k = a.Int("kernel");
                    return new(a.Input, 2L * k * k, 2L * k * k * a.Input.H * a.Input.W, new LayerCall("SpatialAttention", ("kernel", k)));
                },
                (a, o) => new(o.Elements + (3L * a.Input.H * a.Input.W), 0));

            yield return new("channel_shuffle", "interleave channels across groups (ShuffleNet)", 1, 1, false,
                [new("groups", ParamKind.Int, 2, "channel groups", 2, 64)],
                a =>
                {
                    RequireDivisible(a.Input.C, a.Int("groups"), "groups");
                    return new(a.Input, 0, 0, new LayerCall("ChannelShuffle", ("groups", a.Int("groups"))));
                },
                SavesOutput);

            yield return new("split", "one of equal channel slices of the input (ShuffleNetV2's channel split)", 1, 1, false,
                [new("parts", ParamKind.Int, 2, "number of slices", 2, 8), new("part", ParamKind.Int, 0, "which slice, from 0", 0, 7)],
                a =>
                {
                    var (parts, part) = (a.Int("parts"), a.Int("part"));
                    RequireDivisible(a.Input.C, parts, "parts");
                    if (part >= parts)
                    {
                        throw new ShapeRuleException("bad-part", $"part {part} does not exist among {parts} parts");
                    }

                    return new(a.Input with { C = a.Input.C / parts }, 0, 0, new LayerCall("Split", ("parts", parts), ("part", part)));
                },
                SavesNothing);

            yield return new("mhsa", "multi-head self-attention over the H x W spatial tokens: QKV projection, scaled dot-product, output projection", 1, 1, false,
                [new("heads", ParamKind.Int, 4, "attention heads", 1, 64), new("bias", ParamKind.Flag, true, "biases in the projections")],
                a =>
                {
                    var c = a.Input.C;
                    RequireDivisible(c, a.Int("heads"), "heads");
                    var tokens = (long)a.Input.H * a.Input.W;
                    var parameters = (4L * c * c) + (a.Flag("bias") ? 4L * c : 0);
                    return new(a.Input, parameters, (4L * c * c * tokens) + (2L * tokens * tokens * c),
                        new LayerCall("SelfAttention", ("channels", c), ("heads", a.Int("heads")), ("bias", a.Flag("bias"))));
                },
                (a, o) =>
                {
                    // Q, K, V and three token tensors; three attention matrices (scores, scaled, softmax) per head.
                    var tokens = (long)a.Input.H * a.Input.W;
                    return new((6 * (long)a.Input.C * tokens) + o.Elements, 3 * (long)a.Int("heads") * tokens * tokens);
                });

            yield return new(WindowAttentionName, "multi-head self-attention within non-overlapping window x window groups of positions (Swin): QKV projection, scaled dot-product per window, output projection; 'shift' moves the windows by half a window (cyclically, masked) so alternating blocks connect neighbouring windows. The window is clamped to the resolution and the map is zero-padded to a multiple of it", 1, 1, false,
                [new("heads", ParamKind.Int, 4, "attention heads", 1, 64), new("window", ParamKind.Int, 4, "window side in positions (clamped to the resolution)", 1, 64),
                 new("shift", ParamKind.Flag, false, "shift the windows by half a window (Swin's shifted windows)"), new("bias", ParamKind.Flag, true, "biases in the projections")],
                a =>
                {
                    var c = a.Input.C;
                    RequireDivisible(c, a.Int("heads"), "heads");
                    var (window, shift, padded) = WindowLayout(a);
                    var parameters = (4L * c * c) + (a.Flag("bias") ? 4L * c : 0);
                    return new(a.Input, parameters, (4L * c * c * padded) + (2L * padded * window * window * c),
                        new LayerCall("WindowAttention", ("channels", c), ("heads", a.Int("heads")), ("window", window), ("shift", shift), ("bias", a.Flag("bias"))));
                },
                (a, o) =>
                {
                    // As mhsa, over the padded map, with window x window attention matrices per window.
                    var (window, _, padded) = WindowLayout(a);
                    return new((6 * (long)a.Input.C * padded) + o.Elements, 3 * (long)a.Int("heads") * padded * window * window);
                });

            yield return new("token_mlp", "MLP across the H x W tokens, per channel (MLP-Mixer token mixing): Linear, GELU, Linear", 1, 1, false,
                [new("ratio", ParamKind.Number, 0.5, "hidden size as a ratio of the token count", 0.01, 16)],
                a =>
                {
                    var tokens = a.Input.H * a.Input.W;
                    var hidden = Scaled(tokens, a.Number("ratio"));
                    return new(a.Input, (2L * tokens * hidden) + hidden + tokens, 2L * tokens * hidden * a.Input.C,
                        new LayerCall("TokenMlp", ("tokens", tokens), ("hidden", hidden)));
                },
                (a, o) => new((2L * Scaled(a.Input.H * a.Input.W, a.Number("ratio")) * a.Input.C) + a.Input.Elements, 0));

            yield return new("channel_mlp", "MLP across channels at each position (transformer FFN / Mixer channel mixing): Linear, activation, Linear", 1, 1, false,
                [new("ratio", ParamKind.Number, 4.0, "hidden size as a ratio of the input channels", 0.1, 16), Out(), Act("gelu")],
                a =>
                {
                    var cin = a.Input.C;
                    var hidden = Scaled(cin, a.Number("ratio"));
                    var cout = a.Channels("out");
                    var tokens = (long)a.Input.H * a.Input.W;
                    return new(a.Input with { C = cout }, ((long)cin * hidden) + hidden + ((long)hidden * cout) + cout, (((long)cin * hidden) + ((long)hidden * cout)) * tokens,
                        new LayerCall("ChannelMlp", ("inChannels", cin), ("hidden", hidden), ("outChannels", cout), ("activation", a.Text("act"))));
                },
                (a, o) => new((2L * Scaled(a.Input.C, a.Number("ratio")) * a.Input.H * a.Input.W) + o.Elements, 0));

            yield return new("pos_embed", "adds a learned positional encoding of the input's shape", 1, 1, false, [],
                a => new(a.Input, a.Input.Elements, 0, new LayerCall("PositionalEmbedding", ("channels", a.Input.C), ("height", a.Input.H), ("width", a.Input.W))),
                SavesOutput);

            yield return new("layer_scale", "multiplies each channel by a learned scale (ConvNeXt/CaiT layer scale)", 1, 1, false,
                [new("init", ParamKind.Number, 1e-6, "initial scale", 0, 10)],
                a => new(a.Input, a.Input.C, 0, new LayerCall("LayerScale", ("channels", a.Input.C), ("init", a.Number("init")))),
                SavesOutput);

            yield return new("add", "element-wise sum of inputs of equal shape", 2, 8, true, [],
                a =>
                {
                    RequireSameShapes(a, "add");
                    return new(a.Input, 0, 0, null);
                },
                SavesOutput,
                CombineKind.Add);

            yield return new("mul", "element-wise product; one input may be [C,1,1] (channel gating)", 2, 2, true, [],
                a =>
                {
                    var (x, y) = (a.Inputs[0], a.Inputs[1]);
                    var gate = x.H == 1 && x.W == 1 ? x : y;
                    var full = gate == x ? y : x;
                    if (x != y && !(gate.C == full.C && gate.H == 1 && gate.W == 1))
                    {
                        throw new ShapeRuleException("shape-mismatch", $"input shapes {x} and {y} neither match nor broadcast ([C,1,1] gate)");
                    }

                    return new(full, 0, 0, null);
                },
                SavesOutput,
                CombineKind.Mul);

            yield return new("concat", "concatenation along channels of inputs with equal spatial size", 2, 8, false, [],
                a =>
                {
                    foreach (var other in a.Inputs.Skip(1))
                    {
                        if (other.H != a.Input.H || other.W != a.Input.W)
                        {
                            throw new ShapeRuleException("shape-mismatch", $"input shapes {a.Input} and {other} differ in spatial size");
                        }
                    }

                    return new(a.Input with { C = a.Inputs.Sum(s => s.C) }, 0, 0, null);
                },
                SavesOutput,
                CombineKind.Concat);

            yield return new("dropout", "zeroes elements with probability p during training", 1, 1, false, [Probability(0.1)],
                a => new(a.Input, 0, 0, new LayerCall("Dropout", ("p", a.Number("p")))),
                (a, o) => new(2 * o.Elements, 0));

            yield return new("drop_path", "drops the whole branch per sample with probability p during training (stochastic depth)", 1, 1, false, [Probability(0.1)],
                a => new(a.Input, 0, 0, new LayerCall("DropPath", ("p", a.Number("p")))),
                SavesOutput);
        }
    }
}
