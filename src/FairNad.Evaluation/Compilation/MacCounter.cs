using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Compilation;

/// <summary>
/// Counts the multiply-accumulates of a module's forward pass by forward hooks on its leaf modules, the convention of
/// thop and ptflops and of the analysis (<c>Operators</c>): convolutions (kernel volume x input channels per group, per
/// output element; transposed: per input element), linear layers (input features per output element); normalisation,
/// activation, pooling, dropout and embedding layers count 0. What this cannot see is not counted: arithmetic a
/// <c>forward</c> does on tensors itself (<c>torch.matmul</c>, <c>functional.conv2d</c> on its own parameters, element-wise
/// products, and so a module class of the operator's own that holds parameters but no layers), as in thop. Two cases it
/// refuses rather than under-count (see <see cref="Problems"/>): a TorchSharp layer with parameters of a kind it has no
/// rule for, and a convolution or linear layer that received a gradient without its hook firing. TorchSharp fires hooks
/// from <c>call</c>, not from <c>forward</c>; <see cref="CustomOperators.Hooked"/> compiles every <c>x.forward(...)</c> as
/// <c>x.call(...)</c> (and <c>nn.Sequential</c> calls its children so), which leaves a layer run through a delegate, such
/// as the method group <c>conv.forward</c>.
/// </summary>
public sealed class MacCounter : IDisposable
{
    private static readonly HashSet<string> Convolutions = new(StringComparer.Ordinal) { "Conv1d", "Conv2d", "Conv3d" };
    private static readonly HashSet<string> Transposed = new(StringComparer.Ordinal) { "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d" };
    private static readonly HashSet<string> Linear = new(StringComparer.Ordinal) { "Linear" };

    /// <summary>Leaves with parameters that do no multiply-accumulates by the convention.</summary>
    private static readonly HashSet<string> Free = new(StringComparer.Ordinal)
    {
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "PReLU", "Embedding", "LocalResponseNorm",
    };

    private readonly List<(string Name, string Kind, nn.Module<Tensor, Tensor>.HookRemover Remover)> _hooks = [];
    private readonly HashSet<string> _fired = new(StringComparer.Ordinal);
    private readonly List<string> _unknown = [];
    private readonly List<(string Name, nn.Module Module)> _counted = [];
    private long _macs;

    private MacCounter()
    {
    }

    /// <summary>Hooks every leaf module of <paramref name="root"/> (the root itself when it has no children).</summary>
    public static MacCounter Attach(nn.Module root)
    {
        var counter = new MacCounter();
        var modules = root.named_modules().ToList();
        var leaves = modules.Count == 0 ? [("(the operator)", root)] : modules.Where(m => !m.module.children().Any()).ToList();
        foreach (var (name, module) in leaves)
        {
            var kind = module.GetType().Name;
            var counted = Convolutions.Contains(kind) || Transposed.Contains(kind) || Linear.Contains(kind);
            var hasParameters = module.parameters().Any();
            if (!counted)
            {
                // A TorchSharp layer with parameters and no rule (an LSTM, attention) would be under-counted: refused. The
                // operator's own module classes are its own arithmetic, which is not counted (see the class summary).
                if (hasParameters && !Free.Contains(kind) && module.GetType().Assembly == typeof(nn.Module).Assembly)
                {
                    counter._unknown.Add($"{name} ({kind})");
                }

                continue;
            }

            if (module is not nn.Module<Tensor, Tensor> typed)
            {
                counter._unknown.Add($"{name} ({kind})");
                continue;
            }

            counter._counted.Add((name, module));
            var weight = module.named_parameters(recurse: false).First(p => p.name == "weight").parameter;
            var perElement = weight.numel() / weight.shape[0];
            var leafName = name;
            var remover = typed.register_forward_hook((_, input, output) =>
            {
                counter._fired.Add(leafName);
                var elements = Transposed.Contains(kind) ? input.numel() : output.numel();
                counter._macs = checked(counter._macs + (elements * (Linear.Contains(kind) ? weight.shape[1] : perElement)));
                return output;
            });
            counter._hooks.Add((name, kind, remover));
        }

        return counter;
    }

    /// <summary>Multiply-accumulates per sample of the passes since <see cref="Attach"/>, each on a batch of <paramref name="batch"/>.</summary>
    public long MacsPerSample(long batch) => _macs / Math.Max(1, batch);

    /// <summary>
    /// Why the count cannot be trusted, or empty: leaves of unknown kind with parameters, and convolution or linear layers
    /// whose parameters received a gradient but whose hook never fired. Call after forward and backward.
    /// </summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (_unknown.Count > 0)
        {
            problems.Add($"cannot count the multiply-accumulates of {string.Join(", ", _unknown.Take(6))}: use convolution, linear, normalisation and parameter-free layers");
        }

        var bypassed = _counted.Where(c => !_fired.Contains(c.Name) && c.Module.parameters().Any(p => p.grad is not null)).Select(c => $"{c.Name} ({c.Module.GetType().Name})").ToList();
        if (bypassed.Count > 0)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"layer(s) {string.Join(", ", bypassed.Take(6))} ran through forward(x), which skips the hooks that measure their cost: call a layer as layer.call(x) (nn.Sequential does so for its children)"));
        }

        return problems;
    }

    public void Dispose()
    {
        foreach (var (_, _, remover) in _hooks)
        {
            remover.remove();
        }
    }
}
