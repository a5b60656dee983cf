using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Modules;

/// <summary>
/// The layer library that both the interpreted models and the generated candidate code call. Every factory takes literal
/// sizes (resolved by <c>NetworkPlanner</c>) and creates its weights in a fixed order from torch's global generator, so the
/// same seed gives the same weights whichever path builds the network. Parameter names are part of the contract: the
/// definitions' layer calls and the generated code pass arguments by name, and <see cref="LayerFactory"/> binds each
/// factory with its names for the interpreted path.
/// </summary>
public static class Layers
{
    public static nn.Module<Tensor, Tensor> Conv(int inChannels, int outChannels, int kernel, int stride, int dilation, int groups, bool bias) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: dilation * (kernel - 1) / 2, dilation: dilation, groups: groups, bias: bias);

    /// <summary>NAS-Bench-201's ReLUConvBN.</summary>
    public static nn.Module<Tensor, Tensor> ReluConvBn(int inChannels, int outChannels, int kernel, int stride, int dilation) =>
        nn.Sequential(nn.ReLU(), Conv(inChannels, outChannels, kernel, stride, dilation, 1, false), nn.BatchNorm2d(outChannels));

    public static nn.Module<Tensor, Tensor> SepConv(int inChannels, int outChannels, int kernel, int stride, string activation) =>
        nn.Sequential(
            Activation(activation),
            Conv(inChannels, inChannels, kernel, stride, 1, inChannels, false),
            Conv(inChannels, outChannels, 1, 1, 1, 1, false),
            nn.BatchNorm2d(outChannels));

    /// <summary>MobileNetV2's inverted residual without the residual (the block adds it with an add node).</summary>
    public static nn.Module<Tensor, Tensor> InvertedResidual(int inChannels, int hidden, int outChannels, int kernel, int stride, bool expansion, string activation)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        if (expansion)
        {
            layers.AddRange([Conv(inChannels, hidden, 1, 1, 1, 1, false), nn.BatchNorm2d(hidden), Activation(activation)]);
        }

        layers.AddRange([
            Conv(hidden, hidden, kernel, stride, 1, hidden, false), nn.BatchNorm2d(hidden), Activation(activation),
            Conv(hidden, outChannels, 1, 1, 1, 1, false), nn.BatchNorm2d(outChannels),
        ]);
        return nn.Sequential(layers);
    }

    public static nn.Module<Tensor, Tensor> MaxPool(int kernel, int stride) => nn.MaxPool2d(kernel, stride, (kernel - 1) / 2);

    public static nn.Module<Tensor, Tensor> AvgPool(int kernel, int stride) => nn.AvgPool2d(kernel, stride, (kernel - 1) / 2, count_include_pad: false);

    public static nn.Module<Tensor, Tensor> GlobalAvgPool() => nn.AdaptiveAvgPool2d(1);

    public static nn.Module<Tensor, Tensor> Identity() => nn.Identity();

    /// <summary>
    /// An LLM-written operator, by the reference (sha256) of its source, which this process must have loaded
    /// (<see cref="Compilation.CustomOperators"/>; workers do, from the run's operators/ folder).
    /// </summary>
    public static nn.Module<Tensor, Tensor> Custom(string source, int inChannels, int outChannels, int stride) =>
        Compilation.CustomOperators.Create(source, "custom_" + source[Architecture.OperatorSources.Prefix.Length..][..12], inChannels, outChannels, stride);

    public static nn.Module<Tensor, Tensor> Zero() => new Zero();

    public static nn.Module<Tensor, Tensor> BatchNorm(int channels) => nn.BatchNorm2d(channels);

    public static nn.Module<Tensor, Tensor> LayerNorm(int channels) => new ChannelLayerNorm(channels);

    public static nn.Module<Tensor, Tensor> InstanceNorm(int channels) => nn.InstanceNorm2d(channels, affine: true);

    /// <summary>
    /// TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised (whatever the allocator returned), so they
    /// are set here to PyTorch's defaults: weight 1, bias 0.
    /// </summary>
    public static nn.Module<Tensor, Tensor> GroupNorm(int groups, int channels)
    {
        var norm = nn.GroupNorm(groups, channels);
        using (torch.no_grad())
        {
            norm.weight!.fill_(1);
            norm.bias!.zero_();
        }

        return norm;
    }

    public static nn.Module<Tensor, Tensor> Activation(string function) => function switch
    {
        "relu" => nn.ReLU(),
        "relu6" => nn.ReLU6(),
        "gelu" => nn.GELU(),
        "silu" => nn.SiLU(),
        "hardswish" => nn.Hardswish(),
        "leaky_relu" => nn.LeakyReLU(0.01),
        "mish" => nn.Mish(),
        "sigmoid" => nn.Sigmoid(),
        "hardsigmoid" => nn.Hardsigmoid(),
        "tanh" => nn.Tanh(),
        _ => throw new ArgumentException($"unknown activation '{function}'", nameof(function)),
    };

    public static nn.Module<Tensor, Tensor> SqueezeExcite(int channels, int squeezed) => new SqueezeExcite(channels, squeezed);

    public static nn.Module<Tensor, Tensor> EfficientChannelAttention(int kernel) => new EfficientChannelAttention(kernel);

    public static nn.Module<Tensor, Tensor> SpatialAttention(int kernel) => new SpatialAttention(kernel);

    public static nn.Module<Tensor, Tensor> ChannelShuffle(int groups) => new ChannelShuffle(groups);

    public static nn.Module<Tensor, Tensor> Split(int parts, int part) => new ChannelSplit(parts, part);

    public static nn.Module<Tensor, Tensor> SelfAttention(int channels, int heads, bool bias) => new SpatialSelfAttention(channels, heads, bias);

    /// <summary>Swin's window attention; <paramref name="window"/> and <paramref name="shift"/> are already resolved for the node's resolution.</summary>
    public static nn.Module<Tensor, Tensor> WindowAttention(int channels, int heads, int window, int shift, bool bias) => new WindowSelfAttention(channels, heads, window, shift, bias);

    public static nn.Module<Tensor, Tensor> TokenMlp(int tokens, int hidden) => new TokenMlp(tokens, hidden);

    /// <summary>Per-position MLP as two 1 x 1 convolutions with bias (the same function as Linear layers over channels).</summary>
    public static nn.Module<Tensor, Tensor> ChannelMlp(int inChannels, int hidden, int outChannels, string activation) =>
        nn.Sequential(Conv(inChannels, hidden, 1, 1, 1, 1, true), Activation(activation), Conv(hidden, outChannels, 1, 1, 1, 1, true));

    public static nn.Module<Tensor, Tensor> PositionalEmbedding(int channels, int height, int width) => new PositionalEmbedding(channels, height, width);

    public static nn.Module<Tensor, Tensor> LayerScale(int channels, double init) => new LayerScale(channels, init);

    public static nn.Module<Tensor, Tensor> Dropout(double p) => nn.Dropout(p);

    public static nn.Module<Tensor, Tensor> DropPath(double p) => new DropPath(p);

    /// <summary>k x k convolution (no bias), batch norm, then the activation unless it is "none".</summary>
    public static nn.Module<Tensor, Tensor> ConvStem(int inChannels, int channels, int kernel, int stride, string activation)
    {
        var layers = new List<nn.Module<Tensor, Tensor>> { Conv(inChannels, channels, kernel, stride, 1, 1, false), nn.BatchNorm2d(channels) };
        if (activation != "none")
        {
            layers.Add(Activation(activation));
        }

        return nn.Sequential(layers);
    }

    public static nn.Module<Tensor, Tensor> PatchifyStem(int inChannels, int channels, int patch) =>
        nn.Sequential(nn.Conv2d(inChannels, channels, patch, stride: patch, bias: true), new ChannelLayerNorm(channels));

    public static nn.Module<Tensor, Tensor> StridedConvDownsample(int inChannels, int outChannels) =>
        nn.Sequential(Conv(inChannels, outChannels, 3, 2, 1, 1, false), nn.BatchNorm2d(outChannels));

    public static nn.Module<Tensor, Tensor> ResidualReduction(int inChannels, int outChannels) => new ResidualReduction(inChannels, outChannels);

    public static nn.Module<Tensor, Tensor> PatchMerging(int inChannels, int outChannels) =>
        nn.Sequential(new ChannelLayerNorm(inChannels), nn.Conv2d(inChannels, outChannels, 2, stride: 2, bias: true));

    public static nn.Module<Tensor, Tensor> AvgPoolConvDownsample(int inChannels, int outChannels) =>
        nn.Sequential(nn.AvgPool2d(2, 2), Conv(inChannels, outChannels, 1, 1, 1, 1, false), nn.BatchNorm2d(outChannels));

    public static nn.Module<Tensor, Tensor> ClassifierHead(int channels, int classes, string preActivation, double dropout) =>
        new ClassifierHead(channels, classes, preActivation, dropout);
}

/// <summary>Zeros of the input's shape (NAS-Bench-201's none), kept in the graph so the cell's arithmetic is unchanged.</summary>
public sealed class Zero : nn.Module<Tensor, Tensor>
{
    public Zero()
        : base(nameof(Zero))
    {
    }

    public override Tensor forward(Tensor input) => input.mul(0.0);
}

/// <summary>Layer norm over channels at every position of an NCHW tensor.</summary>
public sealed class ChannelLayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm;

    public ChannelLayerNorm(int channels)
        : base(nameof(ChannelLayerNorm))
    {
        norm = nn.LayerNorm(channels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => norm.forward(input.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
}

public sealed class SqueezeExcite : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d reduce;
    private readonly Conv2d expand;

    public SqueezeExcite(int channels, int squeezed)
        : base(nameof(SqueezeExcite))
    {
        reduce = nn.Conv2d(channels, squeezed, 1, bias: true);
        expand = nn.Conv2d(squeezed, channels, 1, bias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var gate = expand.forward(nn.functional.relu(reduce.forward(input.mean([2, 3], keepdim: true)))).sigmoid();
        return input * gate;
    }
}

public sealed class EfficientChannelAttention : nn.Module<Tensor, Tensor>
{
    private readonly Conv1d conv;

    public EfficientChannelAttention(int kernel)
        : base(nameof(EfficientChannelAttention))
    {
        conv = nn.Conv1d(1, 1, kernel, padding: (kernel - 1) / 2, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var pooled = input.mean([2, 3]).unsqueeze(1); // [N, 1, C]
        var gate = conv.forward(pooled).sigmoid().squeeze(1).unsqueeze(-1).unsqueeze(-1);
        return input * gate;
    }
}

/// <summary>CBAM's spatial attention.</summary>
public sealed class SpatialAttention : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;

    public SpatialAttention(int kernel)
        : base(nameof(SpatialAttention))
    {
        conv = nn.Conv2d(2, 1, kernel, padding: (kernel - 1) / 2, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var summary = torch.cat([input.mean([1], keepdim: true), input.amax([1], keepdim: true)], 1);
        return input * conv.forward(summary).sigmoid();
    }
}

public sealed class ChannelShuffle : nn.Module<Tensor, Tensor>
{
    private readonly int _groups;

    public ChannelShuffle(int groups)
        : base(nameof(ChannelShuffle))
    {
        _groups = groups;
    }

    public override Tensor forward(Tensor input)
    {
        var (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        return input.view(n, _groups, c / _groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w);
    }
}

public sealed class ChannelSplit : nn.Module<Tensor, Tensor>
{
    private readonly int _parts;
    private readonly int _part;

    public ChannelSplit(int parts, int part)
        : base(nameof(ChannelSplit))
    {
        (_parts, _part) = (parts, part);
    }

    public override Tensor forward(Tensor input)
    {
        var size = input.shape[1] / _parts;
        return input.narrow(1, _part * size, size);
    }
}

/// <summary>Multi-head self-attention over the H x W positions of an NCHW tensor.</summary>
public sealed class SpatialSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear projection;
    private readonly int _heads;

    public SpatialSelfAttention(int channels, int heads, bool bias)
        : base(nameof(SpatialSelfAttention))
    {
        qkv = nn.Linear(channels, 3 * channels, hasBias: bias);
        projection = nn.Linear(channels, channels, hasBias: bias);
        _heads = heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var tokens = input.flatten(2).transpose(1, 2); // [N, T, C]
        var headSize = c / _heads;
        var qkvHeads = qkv.forward(tokens).view(n, h * w, 3, _heads, headSize).permute(2, 0, 3, 1, 4); // [3, N, heads, T, d]
        var (q, k, v) = (qkvHeads[0], qkvHeads[1], qkvHeads[2]);
        var attention = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(headSize)).softmax(-1);
        var mixed = attention.matmul(v).transpose(1, 2).reshape(n, h * w, c);
        return projection.forward(mixed).transpose(1, 2).reshape(n, c, h, w);
    }
}

/// <summary>
/// Multi-head self-attention within window x window groups of positions of an NCHW tensor (Swin). The map is
/// zero-padded at the bottom and right to a multiple of the window (padded positions take part, as in Swin, and are
/// cropped afterwards); with a shift, the map is rolled by -shift before and +shift after, and positions that the roll
/// brought together from opposite edges do not attend to each other (Swin's mask, built on every call: it is small, and
/// a cached tensor would not survive the caller's dispose scope).
/// </summary>
public sealed class WindowSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear projection;
    private readonly int _heads;
    private readonly int _window;
    private readonly int _shift;

    public WindowSelfAttention(int channels, int heads, int window, int shift, bool bias)
        : base(nameof(WindowSelfAttention))
    {
        if (window < 1 || shift < 0 || shift >= window)
        {
            throw new ArgumentException($"window {window} and shift {shift}: need window >= 1 and 0 <= shift < window");
        }

        qkv = nn.Linear(channels, 3 * channels, hasBias: bias);
        projection = nn.Linear(channels, channels, hasBias: bias);
        (_heads, _window, _shift) = (heads, window, shift);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        long ws = _window;
        var (padH, padW) = ((ws - (h % ws)) % ws, (ws - (w % ws)) % ws);
        var x = input.permute(0, 2, 3, 1); // [N, H, W, C]
        if (padH > 0 || padW > 0)
        {
            x = nn.functional.pad(x, [0, 0, 0, padW, 0, padH]);
        }

        var (hp, wp) = (h + padH, w + padW);
        if (_shift > 0)
        {
            x = x.roll([-_shift, -_shift], [1, 2]);
        }

        var (rows, columns, tokens) = (hp / ws, wp / ws, ws * ws);
        var windows = x.reshape(n, rows, ws, columns, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(n * rows * columns, tokens, c);
        var headSize = c / _heads;
        var qkvHeads = qkv.forward(windows).view(n * rows * columns, tokens, 3, _heads, headSize).permute(2, 0, 3, 1, 4); // [3, B, heads, T, d]
        var (q, k, v) = (qkvHeads[0], qkvHeads[1], qkvHeads[2]);
        var scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(headSize)); // [B, heads, T, T]
        if (_shift > 0)
        {
            scores = (scores.view(n, rows * columns, _heads, tokens, tokens) + Mask(hp, wp, input.device).unsqueeze(1).unsqueeze(0))
                .view(n * rows * columns, _heads, tokens, tokens);
        }

        var mixed = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(n * rows * columns, tokens, c);
        var merged = projection.forward(mixed).view(n, rows, columns, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(n, hp, wp, c);
        if (_shift > 0)
        {
            merged = merged.roll([_shift, _shift], [1, 2]);
        }

        if (padH > 0 || padW > 0)
        {
            merged = merged.narrow(1, 0, h).narrow(2, 0, w);
        }

        return merged.permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>[windows, T, T]: 0 where two positions of a window came from the same region of the rolled map, -100 elsewhere.</summary>
    private Tensor Mask(long height, long width, Device device)
    {
        var ws = _window;
        int Region(long position, long size) => position < size - ws ? 0 : position < size - _shift ? 1 : 2;
        var (rows, columns, tokens) = (height / ws, width / ws, ws * ws);
        var values = new float[rows * columns * tokens * tokens];
        var labels = new int[tokens];
        for (var r = 0; r < rows; r++)
        {
            for (var col = 0; col < columns; col++)
            {
                for (var t = 0; t < tokens; t++)
                {
                    labels[t] = (3 * Region((r * ws) + (t / ws), height)) + Region((col * ws) + (t % ws), width);
                }

                var offset = ((r * columns) + col) * tokens * tokens;
                for (var i = 0; i < tokens; i++)
                {
                    for (var j = 0; j < tokens; j++)
                    {
                        values[offset + (i * tokens) + j] = labels[i] == labels[j] ? 0f : -100f;
                    }
                }
            }
        }

        return torch.tensor(values, [rows * columns, tokens, tokens]).to(device);
    }
}

/// <summary>MLP-Mixer token mixing: an MLP across the H x W positions, shared by all channels.</summary>
public sealed class TokenMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public TokenMlp(int tokens, int hidden)
        : base(nameof(TokenMlp))
    {
        fc1 = nn.Linear(tokens, hidden);
        fc2 = nn.Linear(hidden, tokens);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var shape = input.shape;
        return fc2.forward(nn.functional.gelu(fc1.forward(input.flatten(2)))).view(shape);
    }
}

public sealed class PositionalEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public PositionalEmbedding(int channels, int height, int width)
        : base(nameof(PositionalEmbedding))
    {
        using (torch.no_grad())
        {
            weight = new Parameter(torch.randn(1, channels, height, width).mul_(0.02));
        }

        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => input + weight;
}

public sealed class LayerScale : nn.Module<Tensor, Tensor>
{
    private readonly Parameter scale;

    public LayerScale(int channels, double init)
        : base(nameof(LayerScale))
    {
        scale = new Parameter(torch.full(1, channels, 1, 1, init));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => input * scale;
}

/// <summary>Stochastic depth: in training, drops the whole input per sample with probability p and rescales the rest.</summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    private readonly double _p;

    public DropPath(double p)
        : base(nameof(DropPath))
    {
        _p = p;
    }

    public override Tensor forward(Tensor input)
    {
        if (!training || _p == 0)
        {
            return input.alias();
        }

        var keep = 1 - _p;
        var mask = torch.rand([input.shape[0], 1, 1, 1], dtype: input.dtype, device: input.device).lt(keep).to(input.dtype);
        return input.div(keep) * mask;
    }
}

/// <summary>NAS-Bench-201's ResNet basic block with stride 2: two ReLU-Conv-BN and an AvgPool + 1 x 1 conv shortcut.</summary>
public sealed class ResidualReduction : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv_a;
    private readonly nn.Module<Tensor, Tensor> conv_b;
    private readonly nn.Module<Tensor, Tensor> shortcut;

    public ResidualReduction(int inChannels, int outChannels)
        : base(nameof(ResidualReduction))
    {
        conv_a = Layers.ReluConvBn(inChannels, outChannels, 3, 2, 1);
        conv_b = Layers.ReluConvBn(outChannels, outChannels, 3, 1, 1);
        shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(inChannels, outChannels, 1, bias: false));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => shortcut.forward(input) + conv_b.forward(conv_a.forward(input));
}

/// <summary>Optional batch norm + activation, global average pooling, optional dropout, linear classifier.</summary>
public sealed class ClassifierHead : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> pre;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly Linear classifier;

    public ClassifierHead(int channels, int classes, string preActivation, double dropout)
        : base(nameof(ClassifierHead))
    {
        pre = preActivation == "none" ? nn.Identity() : nn.Sequential(nn.BatchNorm2d(channels), Layers.Activation(preActivation));
        this.dropout = dropout > 0 ? nn.Dropout(dropout) : nn.Identity();
        classifier = nn.Linear(channels, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => classifier.forward(dropout.forward(pre.forward(input).mean([2, 3])));
}
