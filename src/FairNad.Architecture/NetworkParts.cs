using FairNad.Architecture.Models;

namespace FairNad.Architecture;

/// <summary>A stem kind: its shape, cost and layer for a spec's input and stem.</summary>
/// <param name="Saved">Elements training keeps per sample, from the spec and the stem's output shape (see <see cref="TrainingMemory"/>).</param>
public sealed record StemDefinition(StemKind Kind, Func<ArchitectureSpec, OperatorApplication> Apply, Func<ArchitectureSpec, Shape, long> Saved);

/// <summary>
/// A downsampling step before a stage: from the previous output shape and the stage width to its output, cost and layer
/// (null for <see cref="DownsampleKind.None"/>); <see cref="Apply"/> returns null when the step cannot bridge the widths.
/// </summary>
/// <param name="Saved">Elements training keeps per sample, from the input and output shapes (see <see cref="TrainingMemory"/>).</param>
public sealed record DownsampleDefinition(DownsampleKind Kind, Func<Shape, int, OperatorApplication?> Apply, Func<Shape, Shape, long> Saved);

/// <summary>The classifier head: from the spec and the last stage's output to the class scores, cost and layer.</summary>
/// <param name="Saved">Elements training keeps per sample, from the spec and the last stage's output (see <see cref="TrainingMemory"/>).</param>
public sealed record HeadDefinition(Func<ArchitectureSpec, Shape, OperatorApplication> Apply, Func<ArchitectureSpec, Shape, long> Saved);

/// <summary>
/// The parts of a network around the blocks, defined like operators (<see cref="Operators"/>): each stem kind, downsampling
/// step and the head carries its shape rule, cost (same conventions: trainable weights; MACs of convolutions and linear
/// layers for one sample) and layer call in one place. Every rule computes in checked arithmetic.
/// </summary>
public static class NetworkParts
{
    public static readonly IReadOnlyDictionary<StemKind, StemDefinition> Stems = new StemDefinition[]
    {
        new(StemKind.Conv, spec =>
        {
            checked
            {
                var (stem, input) = (spec.Stem, spec.Input);
                var c = stem.Channels;
                var h = Operators.SpatialOut(input.Resolution, stem.Kernel, stem.Stride);
                var weights = (long)input.Channels * c * stem.Kernel * stem.Kernel;
                return new(new Shape(c, h, h), weights + (2L * c), weights * h * h,
                    new LayerCall("ConvStem", ("inChannels", input.Channels), ("channels", c), ("kernel", stem.Kernel), ("stride", stem.Stride), ("activation", stem.Activation)));
            }
        },
        (spec, output) => checked((spec.Stem.Activation == "none" ? 2 : 3) * output.Elements)),
        new(StemKind.Patchify, spec =>
        {
            checked
            {
                var (stem, input) = (spec.Stem, spec.Input);
                var c = stem.Channels;
                var size = input.Resolution / stem.Kernel;
                var weights = (long)input.Channels * c * stem.Kernel * stem.Kernel;
                return new(new Shape(c, size, size), weights + c + (2L * c), weights * size * size,
                    new LayerCall("PatchifyStem", ("inChannels", input.Channels), ("channels", c), ("patch", stem.Kernel)));
            }
        },
        (_, output) => checked(3 * output.Elements)),
    }.ToDictionary(d => d.Kind);

    public static readonly IReadOnlyDictionary<DownsampleKind, DownsampleDefinition> Downsamples = new DownsampleDefinition[]
    {
        new(DownsampleKind.None, (input, width) => input.C == width ? new(input, 0, 0, null) : null, (_, _) => 0),
        new(DownsampleKind.StridedConv, (input, width) =>
        {
            checked
            {
                var (cin, half) = ((long)input.C, Half(input));
                return new(new Shape(width, half, half), (cin * width * 9) + (2L * width), cin * width * 9 * half * half, Bridge("StridedConvDownsample", input, width));
            }
        },
        (_, output) => checked(2 * output.Elements)),
        new(DownsampleKind.ResidualReduction, (input, width) =>
        {
            checked
            {
                var (cin, half, pooled) = ((long)input.C, Half(input), input.H / 2);
                return new(
                    new Shape(width, half, half),
                    (cin * width * 9) + (2L * width) + ((long)width * width * 9) + (2L * width) + (cin * width),
                    ((cin * width * 9) + ((long)width * width * 9)) * half * half + (cin * width * pooled * pooled),
                    Bridge("ResidualReduction", input, width));
            }
        },
        // ReLU-conv-BN twice on the main path, average pool and 1 x 1 conv on the shortcut, and the sum.
        (input, output) => checked(input.Elements + (5 * output.Elements) + (input.Elements / 4) + output.Elements)),
        new(DownsampleKind.PatchMerging, (input, width) =>
        {
            checked
            {
                var (cin, pooled) = ((long)input.C, input.H / 2);
                return new(new Shape(width, pooled, pooled), (2 * cin) + (cin * width * 4) + width, cin * width * 4 * pooled * pooled, Bridge("PatchMerging", input, width));
            }
        },
        // Channel layer norm (permuted copy and output), then the 2 x 2 convolution.
        (input, output) => checked((2 * input.Elements) + output.Elements)),
        new(DownsampleKind.AvgPoolConv, (input, width) =>
        {
            checked
            {
                var (cin, pooled) = ((long)input.C, input.H / 2);
                return new(new Shape(width, pooled, pooled), (cin * width) + (2L * width), cin * width * pooled * pooled, Bridge("AvgPoolConvDownsample", input, width));
            }
        },
        (input, output) => checked((input.Elements / 4) + (2 * output.Elements))),
    }.ToDictionary(d => d.Kind);

    /// <summary>Optional batch norm and activation, global average pooling, optional dropout, linear classifier.</summary>
    public static readonly HeadDefinition Head = new((spec, input) =>
    {
        checked
        {
            var (channels, classes) = (input.C, spec.Input.Classes);
            var parameters = (spec.Head.PreActivation == "none" ? 0 : 2L * channels) + ((long)channels * classes) + classes;
            return new(new Shape(classes, 1, 1), parameters, (long)channels * classes,
                new LayerCall("ClassifierHead", ("channels", channels), ("classes", classes), ("preActivation", spec.Head.PreActivation), ("dropout", spec.Head.Dropout)));
        }
    },
    (spec, input) => checked((spec.Head.PreActivation == "none" ? 0 : 2 * input.Elements) + input.C + spec.Input.Classes));

    /// <summary>The stem of a spec.</summary>
    /// <exception cref="OverflowException">a count does not fit in 64 bits.</exception>
    public static OperatorApplication Stem(ArchitectureSpec spec) => Stems[spec.Stem.Kind].Apply(spec);

    /// <summary>The step before a stage; null when it cannot bridge the widths.</summary>
    /// <exception cref="OverflowException">a count does not fit in 64 bits.</exception>
    public static OperatorApplication? Downsample(DownsampleKind kind, Shape input, int width) =>
        Downsamples.TryGetValue(kind, out var definition) ? definition.Apply(input, width) : null;

    /// <summary>Resolution after a 3 x 3, stride-2 step with "same" padding.</summary>
    private static int Half(Shape input) => Operators.SpatialOut(input.H, 3, 2);

    private static LayerCall Bridge(string factory, Shape input, int width) => new(factory, ("inChannels", input.C), ("outChannels", width));
}
