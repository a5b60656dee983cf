namespace FairNad.Architecture;

/// <summary>
/// Small hand-built variants of the reference models the knowledge base draws from, in the macro skeleton every candidate
/// shares. They seed the search population (after width scaling to the budget) and exercise the operator library in
/// tests. Sizes suit 32 x 32 inputs; for other inputs pass the dataset's <see cref="InputSpec"/>.
/// </summary>
public static class ReferenceArchitectures
{
    public static readonly InputSpec Cifar10 = new(3, 32, 10);

    /// <summary>Every reference by name, in a fixed order.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["resnet", "se_resnet", "mobilenetv2", "shufflenetv2", "convnext", "vit", "mlp_mixer", "resnext", "eca_mobilenetv2", "cbam_resnet", "mobilevit", "efficientformer", "swin"];

    public static ArchitectureSpec Get(string name, InputSpec? input = null)
    {
        var i = input ?? Cifar10;
        return name switch
        {
            "resnet" => ResNet(i),
            "se_resnet" => SeResNet(i),
            "mobilenetv2" => MobileNetV2(i),
            "shufflenetv2" => ShuffleNetV2(i),
            "convnext" => ConvNeXt(i),
            "vit" => Vit(i),
            "mlp_mixer" => MlpMixer(i),
            "resnext" => ResNeXt(i),
            "eca_mobilenetv2" => EcaMobileNetV2(i),
            "cbam_resnet" => CbamResNet(i),
            "mobilevit" => MobileVit(i),
            "efficientformer" => EfficientFormer(i),
            "swin" => Swin(i),
            _ => throw new KeyNotFoundException($"unknown reference architecture '{name}'; known: {string.Join(", ", Names)}"),
        };
    }

    public static IEnumerable<ArchitectureSpec> All(InputSpec? input = null) => Names.Select(n => Get(n, input));

    /// <summary>ResNet basic block: conv-BN-ReLU-conv-BN plus identity, then ReLU; residual reduction between stages.</summary>
    public static ArchitectureSpec ResNet(InputSpec input) => Residual("resnet", input, []);

    /// <summary>ResNet basic block with squeeze-and-excitation on the residual branch (SENet).</summary>
    public static ArchitectureSpec SeResNet(InputSpec input) => Residual("se_resnet", input, [new NodeSpec("gate", "se", "b2")]);

    /// <summary>ResNet basic block with CBAM's spatial attention on the residual branch.</summary>
    public static ArchitectureSpec CbamResNet(InputSpec input) => Residual("cbam_resnet", input, [new NodeSpec("gate", "spatial_attention", "b2")]);

    /// <summary>MobileNetV2: inverted residual (expand 6, depthwise 3 x 3, ReLU6) plus identity.</summary>
    public static ArchitectureSpec MobileNetV2(InputSpec input) => Network("mobilenetv2", input,
        new StemSpec(StemKind.Conv, 16, 3, 1, "relu6"),
        [new StageSpec(2, 16, DownsampleKind.None), new StageSpec(3, 24, DownsampleKind.AvgPoolConv), new StageSpec(3, 40, DownsampleKind.AvgPoolConv)],
        [new NodeSpec("ir", "inverted_residual", "input"), new NodeSpec("sum", "add", "ir", "input")], "sum", new HeadSpec("relu6", 0.1));

    /// <summary>MobileNetV2 block with efficient channel attention on the projection (ECA-Net).</summary>
    public static ArchitectureSpec EcaMobileNetV2(InputSpec input) => Network("eca_mobilenetv2", input,
        new StemSpec(StemKind.Conv, 16, 3, 1, "relu6"),
        [new StageSpec(2, 16, DownsampleKind.None), new StageSpec(3, 24, DownsampleKind.AvgPoolConv), new StageSpec(3, 40, DownsampleKind.AvgPoolConv)],
        [new NodeSpec("ir", "inverted_residual", "input").With("act", "hardswish"), new NodeSpec("gate", "eca", "ir"), new NodeSpec("sum", "add", "gate", "input")],
        "sum", new HeadSpec("hardswish", 0.1));

    /// <summary>ShuffleNetV2 unit: channel split, one half through 1x1-dw3x3-1x1, concatenation, channel shuffle.</summary>
    public static ArchitectureSpec ShuffleNetV2(InputSpec input) => Network("shufflenetv2", input,
        new StemSpec(StemKind.Conv, 24, 3, 1, "relu"),
        [new StageSpec(2, 24, DownsampleKind.None), new StageSpec(3, 48, DownsampleKind.StridedConv), new StageSpec(2, 96, DownsampleKind.StridedConv)],
        [
            new NodeSpec("keep", "split", "input").With("part", 0),
            new NodeSpec("branch", "split", "input").With("part", 1),
            new NodeSpec("pw1", "conv", "branch").With("kernel", 1).With("out", 0.5),
            new NodeSpec("bn1", "batch_norm", "pw1"),
            new NodeSpec("act1", "act", "bn1"),
            new NodeSpec("dw", "conv", "act1").With("depthwise", true).With("out", 0.5),
            new NodeSpec("bn2", "batch_norm", "dw"),
            new NodeSpec("pw2", "conv", "bn2").With("kernel", 1).With("out", 0.5),
            new NodeSpec("bn3", "batch_norm", "pw2"),
            new NodeSpec("act3", "act", "bn3"),
            new NodeSpec("join", "concat", "keep", "act3"),
            new NodeSpec("shuffle", "channel_shuffle", "join"),
        ], "shuffle", new HeadSpec("relu", 0));

    /// <summary>ConvNeXt block: depthwise 7 x 7, layer norm, inverted MLP (x4, GELU), layer scale, drop path, identity.</summary>
    public static ArchitectureSpec ConvNeXt(InputSpec input) => Network("convnext", input,
        new StemSpec(StemKind.Patchify, 32, 2, 2, "none"),
        [new StageSpec(2, 32, DownsampleKind.None), new StageSpec(2, 64, DownsampleKind.PatchMerging), new StageSpec(2, 128, DownsampleKind.PatchMerging)],
        [
            new NodeSpec("dw", "conv", "input").With("kernel", 7).With("depthwise", true).With("bias", true),
            new NodeSpec("norm", "layer_norm", "dw"),
            new NodeSpec("mlp", "channel_mlp", "norm"),
            new NodeSpec("scale", "layer_scale", "mlp"),
            new NodeSpec("drop", "drop_path", "scale").With("p", 0.05),
            new NodeSpec("sum", "add", "drop", "input"),
        ], "sum", new HeadSpec("none", 0));

    /// <summary>
    /// ViT encoder block (pre-norm MHSA and MLP, each with identity) on 4 x 4 patches, in two stages joined by patch
    /// merging (as PiT and Swin do) so width scaling has two knobs. Positions come from a learned encoding at the start
    /// of every block, since the skeleton has no place for a single stem-level one.
    /// </summary>
    public static ArchitectureSpec Vit(InputSpec input) => Network("vit", input,
        new StemSpec(StemKind.Patchify, 64, PatchFor(input), PatchFor(input), "none"),
        [new StageSpec(3, 64, DownsampleKind.None), new StageSpec(3, 96, DownsampleKind.PatchMerging)],
        [
            new NodeSpec("pos", "pos_embed", "input"),
            new NodeSpec("norm1", "layer_norm", "pos"),
            new NodeSpec("attn", "mhsa", "norm1"),
            new NodeSpec("sum1", "add", "attn", "pos"),
            new NodeSpec("norm2", "layer_norm", "sum1"),
            new NodeSpec("mlp", "channel_mlp", "norm2").With("ratio", 2.0),
            new NodeSpec("sum2", "add", "mlp", "sum1"),
        ], "sum2", new HeadSpec("none", 0));

    /// <summary>MLP-Mixer block on 4 x 4 patches: token mixing and channel mixing, each pre-norm with identity; two stages joined by patch merging.</summary>
    public static ArchitectureSpec MlpMixer(InputSpec input) => Network("mlp_mixer", input,
        new StemSpec(StemKind.Patchify, 64, PatchFor(input), PatchFor(input), "none"),
        [new StageSpec(3, 64, DownsampleKind.None), new StageSpec(3, 96, DownsampleKind.PatchMerging)],
        [
            new NodeSpec("norm1", "layer_norm", "input"),
            new NodeSpec("tokens", "token_mlp", "norm1"),
            new NodeSpec("sum1", "add", "tokens", "input"),
            new NodeSpec("norm2", "layer_norm", "sum1"),
            new NodeSpec("channels", "channel_mlp", "norm2").With("ratio", 2.0),
            new NodeSpec("sum2", "add", "channels", "sum1"),
        ], "sum2", new HeadSpec("none", 0));

    /// <summary>ResNeXt bottleneck: 1 x 1 reduce, grouped 3 x 3 (8 groups), 1 x 1 expand, identity.</summary>
    public static ArchitectureSpec ResNeXt(InputSpec input) => Network("resnext", input,
        new StemSpec(StemKind.Conv, 32, 3, 1, "relu"),
        [new StageSpec(2, 32, DownsampleKind.None), new StageSpec(2, 64, DownsampleKind.ResidualReduction), new StageSpec(2, 128, DownsampleKind.ResidualReduction)],
        [
            new NodeSpec("reduce", "conv", "input").With("kernel", 1).With("out", 0.5),
            new NodeSpec("bn1", "batch_norm", "reduce"),
            new NodeSpec("act1", "act", "bn1"),
            new NodeSpec("grouped", "conv", "act1").With("groups", 8).With("out", 0.5),
            new NodeSpec("bn2", "batch_norm", "grouped"),
            new NodeSpec("act2", "act", "bn2"),
            new NodeSpec("expand", "conv", "act2").With("kernel", 1),
            new NodeSpec("bn3", "batch_norm", "expand"),
            new NodeSpec("sum", "add", "bn3", "input"),
            new NodeSpec("out", "act", "sum"),
        ], "out", new HeadSpec("none", 0));

    /// <summary>
    /// MobileViT-like (stage-wise): MobileNetV2-style inverted residuals (expand 4, SiLU) in the two high-resolution
    /// stages, then two stages of MobileViT blocks: a local depthwise 3 x 3 and pointwise representation, a pre-norm
    /// transformer layer (MHSA and MLP, each with identity) over the positions, and fusion with the block input by
    /// concatenation and a 1 x 1 convolution. The last stage says "same block as the previous stage".
    /// </summary>
    public static ArchitectureSpec MobileVit(InputSpec input)
    {
        BlockSpec mobileVitBlock = new(
        [
            new NodeSpec("local", "conv", "input").With("depthwise", true),
            new NodeSpec("local_bn", "batch_norm", "local"),
            new NodeSpec("project", "conv", "local_bn").With("kernel", 1),
            new NodeSpec("norm1", "layer_norm", "project"),
            new NodeSpec("attn", "mhsa", "norm1"),
            new NodeSpec("sum1", "add", "attn", "project"),
            new NodeSpec("norm2", "layer_norm", "sum1"),
            new NodeSpec("mlp", "channel_mlp", "norm2").With("ratio", 2.0).With("act", "silu"),
            new NodeSpec("sum2", "add", "mlp", "sum1"),
            new NodeSpec("join", "concat", "sum2", "input"),
            new NodeSpec("fuse", "conv", "join").With("kernel", 1),
            new NodeSpec("fuse_bn", "batch_norm", "fuse"),
            new NodeSpec("out", "act", "fuse_bn").With("fn", "silu"),
        ], "out");
        return new("mobilevit", input, new StemSpec(StemKind.Conv, 16, 3, 1, "silu"),
            [
                new StageSpec(1, 16, DownsampleKind.None),
                new StageSpec(2, 24, DownsampleKind.AvgPoolConv),
                new StageSpec(1, 48, DownsampleKind.AvgPoolConv, mobileVitBlock),
                new StageSpec(1, 64, DownsampleKind.AvgPoolConv, mobileVitBlock),
            ],
            new BlockSpec([new NodeSpec("ir", "inverted_residual", "input").With("expand", 4.0).With("act", "silu"), new NodeSpec("sum", "add", "ir", "input")], "sum"),
            new HeadSpec("silu", 0));
    }

    /// <summary>
    /// EfficientFormer-like (stage-wise): a strided convolutional stem, MetaFormer blocks with a pooling token mixer
    /// (batch norm, 3 x 3 average pooling, identity) and a convolutional MLP in the first two stages, and pre-norm
    /// multi-head self-attention blocks (MHSA and MLP, each with identity) in the last, lowest-resolution stage.
    /// </summary>
    public static ArchitectureSpec EfficientFormer(InputSpec input) => new("efficientformer", input, new StemSpec(StemKind.Conv, 24, 3, 2, "gelu"),
        [
            new StageSpec(2, 24, DownsampleKind.None),
            new StageSpec(2, 48, DownsampleKind.StridedConv),
            new StageSpec(2, 96, DownsampleKind.StridedConv, new BlockSpec(
            [
                new NodeSpec("norm1", "layer_norm", "input"),
                new NodeSpec("attn", "mhsa", "norm1"),
                new NodeSpec("sum1", "add", "attn", "input"),
                new NodeSpec("norm2", "layer_norm", "sum1"),
                new NodeSpec("mlp", "channel_mlp", "norm2").With("ratio", 2.0),
                new NodeSpec("sum2", "add", "mlp", "sum1"),
            ], "sum2")),
        ],
        new BlockSpec(
        [
            new NodeSpec("norm1", "batch_norm", "input"),
            new NodeSpec("pool", "avg_pool", "norm1"),
            new NodeSpec("sum1", "add", "pool", "input"),
            new NodeSpec("norm2", "batch_norm", "sum1"),
            new NodeSpec("mlp", "channel_mlp", "norm2").With("ratio", 2.0),
            new NodeSpec("sum2", "add", "mlp", "sum1"),
        ], "sum2"),
        new HeadSpec("none", 0));

    /// <summary>
    /// Swin-like (stage-wise): a patchify stem to about 8 x 8 positions, and per stage pairs of Swin blocks, window
    /// attention (4 x 4 windows) then shifted-window attention, each pre-norm with identity and followed by a pre-norm
    /// MLP with identity; patch merging between stages. Heads double with the width (2, 4, 8: a head size of 16 before
    /// width scaling), so every stage has its own block. Positions come from a learned encoding at the start of every
    /// block, as in the ViT reference, instead of Swin's relative position bias.
    /// </summary>
    public static ArchitectureSpec Swin(InputSpec input)
    {
        BlockSpec SwinPair(int heads) => new(
        [
            new NodeSpec("pos", "pos_embed", "input"),
            new NodeSpec("norm1", "layer_norm", "pos"),
            new NodeSpec("attn", Operators.WindowAttentionName, "norm1").With("heads", heads),
            new NodeSpec("sum1", "add", "attn", "pos"),
            new NodeSpec("norm2", "layer_norm", "sum1"),
            new NodeSpec("mlp", "channel_mlp", "norm2").With("ratio", 2.0),
            new NodeSpec("sum2", "add", "mlp", "sum1"),
            new NodeSpec("norm3", "layer_norm", "sum2"),
            new NodeSpec("shifted", Operators.WindowAttentionName, "norm3").With("heads", heads).With("shift", true),
            new NodeSpec("sum3", "add", "shifted", "sum2"),
            new NodeSpec("norm4", "layer_norm", "sum3"),
            new NodeSpec("mlp2", "channel_mlp", "norm4").With("ratio", 2.0),
            new NodeSpec("sum4", "add", "mlp2", "sum3"),
        ], "sum4");
        var patch = new[] { 4, 2, 1 }.First(p => input.Resolution % p == 0 && (input.Resolution / p >= 7 || p == 1));
        return new("swin", input, new StemSpec(StemKind.Patchify, 32, patch, patch, "none"),
            [
                new StageSpec(1, 32, DownsampleKind.None),
                new StageSpec(1, 64, DownsampleKind.PatchMerging, SwinPair(4)),
                new StageSpec(1, 128, DownsampleKind.PatchMerging, SwinPair(8)),
            ],
            SwinPair(2), new HeadSpec("none", 0));
    }

    private static int PatchFor(InputSpec input) => input.Resolution % 4 == 0 && input.Resolution >= 16 ? 4 : input.Resolution % 2 == 0 ? 2 : 1;

    private static ArchitectureSpec Residual(string name, InputSpec input, IReadOnlyList<NodeSpec> gate)
    {
        var last = gate.Count == 0 ? "b2" : gate[^1].Id;
        IReadOnlyList<NodeSpec> nodes =
        [
            new NodeSpec("c1", "conv", "input"),
            new NodeSpec("b1", "batch_norm", "c1"),
            new NodeSpec("a1", "act", "b1"),
            new NodeSpec("c2", "conv", "a1"),
            new NodeSpec("b2", "batch_norm", "c2"),
            .. gate,
            new NodeSpec("sum", "add", last, "input"),
            new NodeSpec("out", "act", "sum"),
        ];
        return Network(name, input, new StemSpec(StemKind.Conv, 16, 3, 1, "relu"),
            [new StageSpec(3, 16, DownsampleKind.None), new StageSpec(3, 32, DownsampleKind.ResidualReduction), new StageSpec(3, 64, DownsampleKind.ResidualReduction)],
            nodes, "out", new HeadSpec("none", 0));
    }

    private static ArchitectureSpec Network(string name, InputSpec input, StemSpec stem, IReadOnlyList<StageSpec> stages, IReadOnlyList<NodeSpec> nodes, string output, HeadSpec head) =>
        new(name, input, stem, stages, new BlockSpec(nodes, output), head);
}
