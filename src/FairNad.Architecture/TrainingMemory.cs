using FairNad.Architecture.Models;

namespace FairNad.Architecture;

/// <summary>
/// What one training sample keeps in memory between the forward and the backward pass, predicted from the spec alone:
/// the float32 tensors autograd saves (every layer's output and the intermediate tensors inside composite operators), and
/// separately the attention matrices (heads x tokens^2 per multi-head self-attention), which grow with the square of the
/// resolution and dominate when attention runs on many tokens.
/// </summary>
/// <param name="ActivationElements">Saved tensor elements per sample, attention matrices excluded.</param>
/// <param name="AttentionElements">Elements of the attention matrices (scores, scaled scores, softmax) per sample.</param>
/// <param name="Parameters">Trainable parameters.</param>
public sealed record TrainingFootprint(long ActivationElements, long AttentionElements, long Parameters);

/// <summary>
/// Counts what training saves per sample, node by node, from the shapes the analysis computes. Each operator's count
/// follows its layer implementation (FairNad.Evaluation's layer library): e.g. inverted_residual keeps its expanded
/// tensor three times (conv, batch norm, activation) at each resolution, max pooling keeps int64 indices (two floats each),
/// mhsa keeps Q, K and V, three attention matrices and three token tensors. The counts are an accounting, not a
/// measurement: the evaluation layer turns them into bytes with factors calibrated against measured peak memory
/// (`fairnad bench memory`).
/// </summary>
public static class TrainingMemory
{
    /// <exception cref="InvalidArchitectureException">the spec is not valid.</exception>
    public static TrainingFootprint Footprint(ArchitectureSpec spec)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            throw new InvalidArchitectureException($"{spec.Name}: not a valid architecture", analysis.Errors);
        }

        checked
        {
            var input = new Shape(spec.Input.Channels, spec.Input.Resolution, spec.Input.Resolution);
            var stemOut = analysis.Stages.Count > 0 && spec.Stages[0].Downsample == DownsampleKind.None
                ? new Shape(spec.Stages[0].Width, analysis.Stages[0].Resolution, analysis.Stages[0].Resolution)
                : StemShape(spec);
            long activations = spec.Stem.Kind == StemKind.Patchify ? 3 * stemOut.Elements : (spec.Stem.Activation == "none" ? 2 : 3) * stemOut.Elements;
            long attention = 0;
            var current = stemOut;
            var order = ArchitectureAnalyzer.TopologicalOrder(spec.Block)!;
            var byId = spec.Block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
            foreach (var stage in analysis.Stages)
            {
                var blockInput = new Shape(stage.Width, stage.Resolution, stage.Resolution);
                activations += Downsample(spec.Stages[stage.Index].Downsample, current, blockInput);
                long blockActivations = 0, blockAttention = 0;
                foreach (var id in order)
                {
                    var node = byId[id];
                    var inputs = node.Inputs.Select(i => i == BlockSpec.InputName ? blockInput : stage.NodeShapes[i]).ToList();
                    var (saved, matrices) = Node(node, inputs, stage.NodeShapes[id]);
                    blockActivations += saved;
                    blockAttention += matrices;
                }

                activations += blockActivations * spec.Stages[stage.Index].Blocks;
                attention += blockAttention * spec.Stages[stage.Index].Blocks;
                current = stage.NodeShapes[spec.Block.Output];
            }

            activations += (spec.Head.PreActivation == "none" ? 0 : 2 * current.Elements) + current.C + spec.Input.Classes;
            return new TrainingFootprint(activations + input.Elements, attention, analysis.Parameters);
        }
    }

    private static Shape StemShape(ArchitectureSpec spec)
    {
        var size = spec.Stem.Kind == StemKind.Patchify
            ? spec.Input.Resolution / spec.Stem.Kernel
            : Operators.SpatialOut(spec.Input.Resolution, spec.Stem.Kernel, spec.Stem.Stride);
        return new Shape(spec.Stem.Channels, size, size);
    }

    private static long Downsample(DownsampleKind kind, Shape input, Shape output) => checked(kind switch
    {
        DownsampleKind.None => 0,
        DownsampleKind.StridedConv => 2 * output.Elements,
        // ReLU-conv-BN twice on the main path, average pool and 1 x 1 conv on the shortcut, and the sum.
        DownsampleKind.ResidualReduction => input.Elements + (5 * output.Elements) + (input.Elements / 4) + output.Elements,
        // Channel layer norm (permuted copy and output), then the 2 x 2 convolution.
        DownsampleKind.PatchMerging => (2 * input.Elements) + output.Elements,
        DownsampleKind.AvgPoolConv => (input.Elements / 4) + (2 * output.Elements),
        _ => 0,
    });

    /// <summary>(saved elements, attention-matrix elements) of one node per sample.</summary>
    private static (long Saved, long Attention) Node(NodeSpec node, IReadOnlyList<Shape> inputs, Shape output)
    {
        checked
        {
            var op = Operators.Get(node.Op);
            var values = ArchitectureAnalyzer.WithDefaults(node, op);
            double Number(string name) => values[name].Number!.Value;
            var input = inputs[0];
            var o = output.Elements;
            var tokens = (long)input.H * input.W;
            return node.Op switch
            {
                "conv" or "batch_norm" or "instance_norm" or "group_norm" or "act" or "avg_pool" or "pos_embed" or "layer_scale"
                    or "add" or "mul" or "concat" or "zero" or "drop_path" or "channel_shuffle" or "global_avg_pool" => (o, 0),
                "identity" or "split" => (0, 0),
                "relu_conv_bn" => (input.Elements + (2 * o), 0),
                "sep_conv" => (input.Elements + ((long)input.C * output.H * output.W) + (2 * o), 0),
                "inverted_residual" => InvertedResidual(input, output, Number("expand")),
                "max_pool" => (3 * o, 0),
                "layer_norm" => (2 * o, 0),
                "dropout" => (2 * o, 0),
                "se" or "eca" => (o + input.C, 0),
                "spatial_attention" => (o + (3 * tokens), 0),
                "mhsa" => ((6 * (long)input.C * tokens) + o, 3 * (long)Number("heads") * tokens * tokens),
                "token_mlp" => TokenMlp(input, Number("ratio")),
                "channel_mlp" => ((2 * (long)Math.Max(1, Math.Round(Number("ratio") * input.C, MidpointRounding.AwayFromZero)) * tokens) + o, 0),
                _ => (2 * o, 0),
            };
        }
    }

    private static (long, long) InvertedResidual(Shape input, Shape output, double expand)
    {
        checked
        {
            var hidden = (long)Math.Max(1, Math.Round(expand * input.C, MidpointRounding.AwayFromZero));
            var inTokens = (long)input.H * input.W;
            var outTokens = (long)output.H * output.W;
            var expansion = expand == 1 ? 0 : 3 * hidden * inTokens;
            return (expansion + (3 * hidden * outTokens) + (2 * output.Elements), 0);
        }
    }

    private static (long, long) TokenMlp(Shape input, double ratio)
    {
        checked
        {
            var tokens = (long)input.H * input.W;
            var hidden = (long)Math.Max(1, Math.Round(ratio * tokens, MidpointRounding.AwayFromZero));
            return ((2 * hidden * input.C) + input.Elements, 0);
        }
    }
}
