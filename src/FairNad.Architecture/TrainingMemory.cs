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
/// Counts what training saves per sample, node by node, from the shapes the analysis computes. Each count is the
/// <c>Saved</c> rule of the operator's definition (<see cref="Operators"/>, and <see cref="NetworkParts"/> for the stem,
/// downsampling steps and head), which follows its layer implementation (FairNad.Evaluation's layer library): e.g. inverted_residual keeps its expanded
/// tensor three times (conv, batch norm, activation) at each resolution, max pooling keeps int64 indices (two floats each),
/// mhsa keeps Q, K and V, three attention matrices and three token tensors. The counts are an accounting, not a
/// measurement: the evaluation layer turns them into bytes with factors calibrated against measured peak memory
/// (`fairnad bench memory`).
/// </summary>
public static class TrainingMemory
{
    /// <param name="costs">Measured costs of LLM-written operators, so their parameters count (see <see cref="ArchitectureAnalyzer.Analyze(ArchitectureSpec, IOperatorCosts?)"/>).</param>
    /// <exception cref="InvalidArchitectureException">the spec is not valid.</exception>
    public static TrainingFootprint Footprint(ArchitectureSpec spec, IOperatorCosts? costs = null)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec, costs);
        if (!analysis.IsValid)
        {
            throw new InvalidArchitectureException($"{spec.Name}: not a valid architecture", analysis.Errors);
        }

        checked
        {
            var input = new Shape(spec.Input.Channels, spec.Input.Resolution, spec.Input.Resolution);
            var stem = NetworkParts.Stems[spec.Stem.Kind];
            var stemOut = stem.Apply(spec).Output;
            var activations = stem.Saved(spec, stemOut);
            long attention = 0;
            var current = stemOut;
            foreach (var stage in analysis.Stages)
            {
                var block = spec.BlockOf(stage.Index);
                var order = ArchitectureAnalyzer.TopologicalOrder(block)!;
                var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
                var blockInput = new Shape(stage.Width, stage.Resolution, stage.Resolution);
                activations += NetworkParts.Downsamples[spec.Stages[stage.Index].Downsample].Saved(current, blockInput);
                long blockActivations = 0, blockAttention = 0;
                foreach (var id in order)
                {
                    var node = byId[id];
                    var inputs = node.Inputs.Select(i => i == BlockSpec.InputName ? blockInput : stage.NodeShapes[i]).ToList();
                    var op = Operators.Get(node.Op);
                    var saved = op.Saved(new OperatorArguments(inputs, blockInput.C, ArchitectureAnalyzer.WithDefaults(node, op)), stage.NodeShapes[id]);
                    blockActivations += saved.Elements;
                    blockAttention += saved.AttentionElements;
                }

                activations += blockActivations * spec.Stages[stage.Index].Blocks;
                attention += blockAttention * spec.Stages[stage.Index].Blocks;
                current = stage.NodeShapes[block.Output];
            }

            activations += NetworkParts.Head.Saved(spec, current);
            return new TrainingFootprint(activations + input.Elements, attention, analysis.Parameters);
        }
    }
}
