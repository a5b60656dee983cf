using FairNad.Architecture;
using FairNad.Architecture.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Modules;

/// <summary>
/// A network built directly from a spec: the same layers, names and construction order as the generated code
/// (<see cref="TorchSharpCodeWriter"/>), so the same seed gives the same weights and a state dict fits either.
/// </summary>
public sealed class InterpretedNetwork : nn.Module<Tensor, Tensor>
{
    private readonly List<nn.Module<Tensor, Tensor>> _sequence = [];

    public InterpretedNetwork(NetworkPlan plan)
        : base("Network")
    {
        Plan = plan;
        Add("stem", LayerFactory.Create(plan.Stem));
        foreach (var stage in plan.Stages)
        {
            if (stage.Downsample is not null)
            {
                Add($"down{stage.Index}", LayerFactory.Create(stage.Downsample));
            }

            var blocks = Enumerable.Range(0, stage.Blocks).Select(_ => (nn.Module<Tensor, Tensor>)new InterpretedBlock(stage.Block)).ToArray();
            Add($"stage{stage.Index}", nn.Sequential(blocks));
        }

        Add("head", LayerFactory.Create(plan.Head));
    }

    public NetworkPlan Plan { get; }

    /// <summary>Plans and builds a spec; weights come from torch's global generator (seed it first).</summary>
    public static InterpretedNetwork Build(ArchitectureSpec spec, string source = "spec") => new(NetworkPlanner.Plan(spec, source));

    public override Tensor forward(Tensor input)
    {
        var x = input;
        foreach (var module in _sequence)
        {
            x = module.forward(x);
        }

        return x;
    }

    private void Add(string name, nn.Module<Tensor, Tensor> module)
    {
        register_module(name, module);
        _sequence.Add(module);
    }
}

/// <summary>One block, walking the plan's nodes in topological order.</summary>
public sealed class InterpretedBlock : nn.Module<Tensor, Tensor>
{
    private readonly BlockPlan _plan;
    private readonly Dictionary<string, nn.Module<Tensor, Tensor>> _layers = new(StringComparer.Ordinal);

    public InterpretedBlock(BlockPlan plan)
        : base($"Stage{plan.Stage}Block")
    {
        _plan = plan;
        foreach (var node in plan.Nodes.Where(n => n.Layer is not null))
        {
            var layer = LayerFactory.Create(node.Layer!);
            register_module(node.Id, layer);
            _layers[node.Id] = layer;
        }
    }

    public override Tensor forward(Tensor input)
    {
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [BlockSpec.InputName] = input };
        foreach (var node in _plan.Nodes)
        {
            values[node.Id] = node.Combine switch
            {
                CombineKind.Add => node.Inputs.Skip(1).Aggregate(values[node.Inputs[0]], (sum, id) => sum + values[id]),
                CombineKind.Mul => values[node.Inputs[0]] * values[node.Inputs[1]],
                CombineKind.Concat => torch.cat(node.Inputs.Select(id => values[id]).ToArray(), 1),
                _ => _layers[node.Id].forward(values[node.Inputs[0]]),
            };
        }

        return values[_plan.Output];
    }
}
