namespace FairNad.Architecture;

/// <summary>
/// A candidate architecture: stem -> stages of repeated blocks (a downsampling step before each stage) -> head.
/// Every stage repeats the shared <see cref="Block"/> design at its width, as in the open-ended NAS setting FairNAD
/// inherits from NADER, unless the stage names a block of its own (<see cref="StageSpec.Block"/>), so a network can be
/// convolutional early and attention-based late. Plain immutable data: its canonical JSON (<see cref="SpecJson"/>)
/// hashes to its id; a spec without stage blocks keeps the id it had before stages could have blocks.
/// </summary>
public sealed record ArchitectureSpec(
    string Name,
    InputSpec Input,
    StemSpec Stem,
    IReadOnlyList<StageSpec> Stages,
    BlockSpec Block,
    HeadSpec Head)
{
    /// <summary>The content hash: SHA-256 of the canonical JSON (names excluded), hex, lower case.</summary>
    public string Id => SpecJson.Hash(this);

    /// <summary>Whether some stage has a block of its own (a stage-wise architecture).</summary>
    public bool HasStageBlocks => Stages.Any(s => s.Block is not null);

    /// <summary>The block stage <paramref name="stage"/> repeats: its own, or the shared <see cref="Block"/>.</summary>
    public BlockSpec BlockOf(int stage) => Stages[stage].Block ?? Block;

    /// <summary>The shared block then every stage's own block, in stage order (a block may appear more than once).</summary>
    public IEnumerable<BlockSpec> AllBlocks => Stages.Where(s => s.Block is not null).Select(s => s.Block!).Prepend(Block);
}

/// <summary>What the network sees: image channels, square resolution, and how many classes it predicts.</summary>
public sealed record InputSpec(int Channels, int Resolution, int Classes);

public enum StemKind
{
    /// <summary>k x k convolution (stride s, no bias) followed by batch norm and the activation, if any.</summary>
    Conv,

    /// <summary>Non-overlapping patches: a p x p convolution with stride p (with bias) followed by a channel layer norm.</summary>
    Patchify,
}

/// <summary>Input encoding. <see cref="Activation"/> "none" leaves the conv stem linear (as NAS-Bench-201's stem is).</summary>
public sealed record StemSpec(StemKind Kind, int Channels, int Kernel, int Stride, string Activation);

public enum DownsampleKind
{
    /// <summary>No change; the previous width must equal this stage's width.</summary>
    None,

    /// <summary>3 x 3 convolution, stride 2, then batch norm.</summary>
    StridedConv,

    /// <summary>NAS-Bench-201's residual reduction: ReLU-Conv3x3(s2)-BN, ReLU-Conv3x3-BN, plus AvgPool2-Conv1x1 shortcut.</summary>
    ResidualReduction,

    /// <summary>Channel layer norm then a 2 x 2 convolution with stride 2 (ConvNeXt, Swin patch merging).</summary>
    PatchMerging,

    /// <summary>2 x 2 average pooling then a 1 x 1 convolution and batch norm (used when the width changes).</summary>
    AvgPoolConv,
}

/// <summary>
/// A stage: <see cref="Blocks"/> copies of the block at <see cref="Width"/> channels, after <see cref="Downsample"/>.
/// <see cref="Block"/> is the stage's own block design; null means the spec's shared block. (In JSON a stage may also say
/// <c>"block": "previous"</c>, which the reader resolves to the previous stage's block.)
/// </summary>
public sealed record StageSpec(int Blocks, int Width, DownsampleKind Downsample, BlockSpec? Block = null);

/// <summary>
/// Global pooling then the classifier. <see cref="PreActivation"/> adds batch norm and that activation before pooling
/// (NAS-Bench-201's "lastact"); "none" omits it.
/// </summary>
public sealed record HeadSpec(string PreActivation, double Dropout);

/// <summary>
/// The block: a DAG of operator nodes. The reserved name <c>input</c> is the block's input; <see cref="Output"/> names the
/// node whose value leaves the block, which must have the block's width and resolution.
/// </summary>
public sealed record BlockSpec(IReadOnlyList<NodeSpec> Nodes, string Output)
{
    public const string InputName = "input";
}

/// <summary>One operator application. <see cref="Inputs"/> are node ids or <c>input</c>; order matters unless the operator commutes.</summary>
public sealed record NodeSpec(string Id, string Op, IReadOnlyList<string> Inputs, IReadOnlyDictionary<string, ParamValue> Params)
{
    public NodeSpec(string id, string op, params string[] inputs)
        : this(id, op, inputs, new SortedDictionary<string, ParamValue>(StringComparer.Ordinal))
    {
    }

    /// <summary>A copy with one parameter set.</summary>
    public NodeSpec With(string name, ParamValue value)
    {
        var copy = new SortedDictionary<string, ParamValue>(Params.ToDictionary(), StringComparer.Ordinal) { [name] = value };
        return this with { Params = copy };
    }
}
