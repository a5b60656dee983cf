using System.Globalization;

namespace FairNad.Architecture.Models;

/// <summary>One named, literal argument of a layer factory call: an int, a double, a bool or a string.</summary>
public sealed record LayerArgument(string Name, object Value)
{
    /// <summary>The value as a C# literal, the same on every machine.</summary>
    public string Literal => Value switch
    {
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => DoubleLiteral(d),
        bool b => b ? "true" : "false",
        string s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        _ => throw new InvalidOperationException($"argument '{Name}' has unsupported type {Value.GetType().Name}"),
    };

    private static string DoubleLiteral(double d)
    {
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) ? text : text + ".0";
    }
}

/// <summary>
/// How one part of a network is built: a call of the static factory <see cref="Factory"/> of
/// <c>FairNad.Evaluation.Modules.Layers</c> with literal arguments. The interpreted model executes these calls and the
/// generated C# code prints them, so both paths build the same layers in the same order.
/// </summary>
public sealed record LayerCall(string Factory, IReadOnlyList<LayerArgument> Arguments)
{
    public LayerCall(string factory, params (string Name, object Value)[] arguments)
        : this(factory, arguments.Select(a => new LayerArgument(a.Name, a.Value)).ToList())
    {
    }

    public string ToCSharp() => $"Layers.{Factory}({string.Join(", ", Arguments.Select(a => $"{a.Name}: {a.Literal}"))})";

    public override string ToString() => ToCSharp();
}

/// <summary>Element-wise or channel-wise combination of several node values; these have no weights and no module.</summary>
public enum CombineKind
{
    Add,
    Mul,
    Concat,
}

/// <summary>A block node: either a layer applied to its single input, or a combination of its inputs.</summary>
public sealed record NodePlan(string Id, string Op, IReadOnlyList<string> Inputs, LayerCall? Layer, CombineKind? Combine, Shape Output);

/// <summary>The block of one stage with every channel count and size resolved.</summary>
public sealed record BlockPlan(int Stage, Shape Input, IReadOnlyList<NodePlan> Nodes, string Output);

/// <summary>A stage: the optional downsampling step before it, then <see cref="Blocks"/> copies of <see cref="Block"/>.</summary>
public sealed record StagePlan(int Index, LayerCall? Downsample, int Blocks, BlockPlan Block);

/// <summary>
/// A validated spec resolved into concrete layers, in construction order: stem, then per stage its downsampling step and
/// blocks, then the head. Built from the canonical form, so specs with one id get one plan.
/// </summary>
public sealed record NetworkPlan(string CandidateId, ArchitectureSpec Canonical, ArchitectureAnalysis Analysis, LayerCall Stem, IReadOnlyList<StagePlan> Stages, LayerCall Head)
{
    /// <summary>Operators that combine inputs rather than transform one.</summary>
    public static readonly IReadOnlyDictionary<string, CombineKind> Combinations = new Dictionary<string, CombineKind>(StringComparer.Ordinal)
    {
        ["add"] = CombineKind.Add,
        ["mul"] = CombineKind.Mul,
        ["concat"] = CombineKind.Concat,
    };
}

/// <summary>A spec that cannot be built; <see cref="Errors"/> are the analyzer's messages.</summary>
public sealed class InvalidArchitectureException(string source, IReadOnlyList<ValidationError> errors)
    : Exception($"{source} is not a valid architecture:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<ValidationError> Errors { get; } = errors;
}

/// <summary>Resolves a spec into a <see cref="NetworkPlan"/>.</summary>
public static class NetworkPlanner
{
    /// <exception cref="InvalidArchitectureException">the spec does not validate.</exception>
    public static NetworkPlan Plan(ArchitectureSpec spec, string source = "spec")
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            throw new InvalidArchitectureException(source, analysis.Errors);
        }

        var canonical = Canonicalizer.Canonicalize(spec);
        var id = spec.Id;
        analysis = ArchitectureAnalyzer.Analyze(canonical);
        var stem = StemCall(canonical);
        var stages = new List<StagePlan>();
        var previous = new Shape(canonical.Stem.Channels, 0, 0);
        for (var s = 0; s < canonical.Stages.Count; s++)
        {
            var stage = canonical.Stages[s];
            var resolution = analysis.Stages[s].Resolution;
            var input = new Shape(stage.Width, resolution, resolution);
            var down = DownsampleCall(stage.Downsample, previous.C, stage.Width);
            stages.Add(new StagePlan(s, down, stage.Blocks, PlanBlock(canonical.Block, s, input, analysis.Stages[s].NodeShapes)));
            previous = input;
        }

        var last = canonical.Stages[^1].Width;
        var head = new LayerCall("ClassifierHead", ("channels", last), ("classes", canonical.Input.Classes),
            ("preActivation", canonical.Head.PreActivation), ("dropout", canonical.Head.Dropout));
        return new NetworkPlan(id, canonical, analysis, stem, stages, head);
    }

    /// <summary>The layer call of one node at a given block width, or null for a combination (add, mul, concat).</summary>
    public static LayerCall? LayerFor(NodeSpec node, IReadOnlyList<Shape> inputs, int blockWidth)
    {
        var op = Operators.Get(node.Op);
        if (NetworkPlan.Combinations.ContainsKey(node.Op))
        {
            return null;
        }

        var a = new OperatorArguments(inputs, blockWidth, ArchitectureAnalyzer.WithDefaults(node, op));
        var input = a.Input;
        return node.Op switch
        {
            "conv" => new LayerCall("Conv", ("inChannels", input.C), ("outChannels", a.Channels("out")), ("kernel", a.Int("kernel")), ("stride", a.Int("stride")),
                ("dilation", a.Int("dilation")), ("groups", a.Flag("depthwise") ? input.C : a.Int("groups")), ("bias", a.Flag("bias"))),
            "relu_conv_bn" => new LayerCall("ReluConvBn", ("inChannels", input.C), ("outChannels", a.Channels("out")), ("kernel", a.Int("kernel")),
                ("stride", a.Int("stride")), ("dilation", a.Int("dilation"))),
            "sep_conv" => new LayerCall("SepConv", ("inChannels", input.C), ("outChannels", a.Channels("out")), ("kernel", a.Int("kernel")),
                ("stride", a.Int("stride")), ("activation", a.Text("act"))),
            "inverted_residual" => InvertedResidual(a),
            "max_pool" => new LayerCall("MaxPool", ("kernel", a.Int("kernel")), ("stride", a.Int("stride"))),
            "avg_pool" => new LayerCall("AvgPool", ("kernel", a.Int("kernel")), ("stride", a.Int("stride"))),
            "global_avg_pool" => new LayerCall("GlobalAvgPool"),
            "identity" => new LayerCall("Identity"),
            "zero" => new LayerCall("Zero"),
            "batch_norm" => new LayerCall("BatchNorm", ("channels", input.C)),
            "layer_norm" => new LayerCall("LayerNorm", ("channels", input.C)),
            "instance_norm" => new LayerCall("InstanceNorm", ("channels", input.C)),
            "group_norm" => new LayerCall("GroupNorm", ("groups", a.Int("groups")), ("channels", input.C)),
            "act" => new LayerCall("Activation", ("function", a.Text("fn"))),
            "se" => new LayerCall("SqueezeExcite", ("channels", input.C), ("squeezed", Math.Max(1, (int)Math.Round(input.C / a.Number("reduction"), MidpointRounding.AwayFromZero)))),
            "eca" => new LayerCall("EfficientChannelAttention", ("kernel", a.Int("kernel"))),
            "spatial_attention" => new LayerCall("SpatialAttention", ("kernel", a.Int("kernel"))),
            "channel_shuffle" => new LayerCall("ChannelShuffle", ("groups", a.Int("groups"))),
            "split" => new LayerCall("Split", ("parts", a.Int("parts")), ("part", a.Int("part"))),
            "mhsa" => new LayerCall("SelfAttention", ("channels", input.C), ("heads", a.Int("heads")), ("bias", a.Flag("bias"))),
            "token_mlp" => new LayerCall("TokenMlp", ("tokens", input.H * input.W),
                ("hidden", Math.Max(1, (int)Math.Round(input.H * input.W * a.Number("ratio"), MidpointRounding.AwayFromZero)))),
            "channel_mlp" => new LayerCall("ChannelMlp", ("inChannels", input.C),
                ("hidden", Math.Max(1, (int)Math.Round(input.C * a.Number("ratio"), MidpointRounding.AwayFromZero))), ("outChannels", a.Channels("out")),
                ("activation", a.Text("act"))),
            "pos_embed" => new LayerCall("PositionalEmbedding", ("channels", input.C), ("height", input.H), ("width", input.W)),
            "layer_scale" => new LayerCall("LayerScale", ("channels", input.C), ("init", a.Number("init"))),
            "dropout" => new LayerCall("Dropout", ("p", a.Number("p"))),
            "drop_path" => new LayerCall("DropPath", ("p", a.Number("p"))),
            _ => throw new InvalidOperationException($"operator '{node.Op}' has no layer; add it to {nameof(NetworkPlanner)}.{nameof(LayerFor)}"),
        };
    }

    private static LayerCall InvertedResidual(OperatorArguments a)
    {
        var cin = a.Input.C;
        var hidden = Math.Max(1, (int)Math.Round(cin * a.Number("expand"), MidpointRounding.AwayFromZero));
        var expansion = !(hidden == cin && a.Number("expand") == 1);
        return new LayerCall("InvertedResidual", ("inChannels", cin), ("hidden", hidden), ("outChannels", a.Channels("out")), ("kernel", a.Int("kernel")),
            ("stride", a.Int("stride")), ("expansion", expansion), ("activation", a.Text("act")));
    }

    private static BlockPlan PlanBlock(BlockSpec block, int stage, Shape input, IReadOnlyDictionary<string, Shape> shapes)
    {
        Shape ShapeOf(string id) => id == BlockSpec.InputName ? input : shapes[id];
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var nodes = ArchitectureAnalyzer.TopologicalOrder(block)!.Select(id =>
        {
            var node = byId[id];
            var inputs = node.Inputs.Select(ShapeOf).ToList();
            var combine = NetworkPlan.Combinations.TryGetValue(node.Op, out var kind) ? kind : (CombineKind?)null;
            return new NodePlan(id, node.Op, node.Inputs, LayerFor(node, inputs, input.C), combine, shapes[id]);
        }).ToList();
        return new BlockPlan(stage, input, nodes, block.Output);
    }

    private static LayerCall StemCall(ArchitectureSpec spec) => spec.Stem.Kind switch
    {
        StemKind.Conv => new LayerCall("ConvStem", ("inChannels", spec.Input.Channels), ("channels", spec.Stem.Channels), ("kernel", spec.Stem.Kernel),
            ("stride", spec.Stem.Stride), ("activation", spec.Stem.Activation)),
        StemKind.Patchify => new LayerCall("PatchifyStem", ("inChannels", spec.Input.Channels), ("channels", spec.Stem.Channels), ("patch", spec.Stem.Kernel)),
        _ => throw new InvalidOperationException($"stem kind {spec.Stem.Kind} has no layer"),
    };

    private static LayerCall? DownsampleCall(DownsampleKind kind, int inChannels, int outChannels) => kind switch
    {
        DownsampleKind.None => null,
        DownsampleKind.StridedConv => new LayerCall("StridedConvDownsample", ("inChannels", inChannels), ("outChannels", outChannels)),
        DownsampleKind.ResidualReduction => new LayerCall("ResidualReduction", ("inChannels", inChannels), ("outChannels", outChannels)),
        DownsampleKind.PatchMerging => new LayerCall("PatchMerging", ("inChannels", inChannels), ("outChannels", outChannels)),
        DownsampleKind.AvgPoolConv => new LayerCall("AvgPoolConvDownsample", ("inChannels", inChannels), ("outChannels", outChannels)),
        _ => throw new InvalidOperationException($"downsample kind {kind} has no layer"),
    };
}
