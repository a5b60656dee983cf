using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Proxies;

/// <summary>Scores of an untrained network that correlate with its trained accuracy, for cheap pre-screening.</summary>
public sealed record ProxyScores(double Synflow, double? GradNorm, double? Snip, double? Naswot);

/// <summary>
/// Zero-cost proxies computed on a freshly built model (Abdelfattah et al. 2021; Mellor et al. 2021):
/// <list type="bullet">
/// <item>synflow (data-free): in double precision, with every weight replaced by its absolute value and batch norm in
/// eval mode (identity at initialisation), the sum over weights of |theta * d(sum of outputs)/d theta| for an all-ones
/// input; reported as log10 because it spans hundreds of orders of magnitude.</item>
/// <item>grad_norm: the sum of the L2 norms of each weight's cross-entropy gradient on one batch.</item>
/// <item>snip: the sum over weights of |theta * gradient| on one batch.</item>
/// <item>naswot: log-determinant of the Hamming-similarity kernel of the batch's binary activation codes (every
/// activation output, positive or not), which rewards networks that tell the samples apart at initialisation.</item>
/// </list>
/// As in the reference implementation, "weights" are those of convolutions and linear layers (no biases, no
/// normalisation parameters).
/// </summary>
public static class ZeroCostProxies
{
    /// <summary>The weights the proxies sum over: those of convolution and linear layers.</summary>
    public static IEnumerable<Tensor> ScoredWeights(nn.Module model) =>
        model.named_modules().Select(m => m.module).Where(m => m is TorchSharp.Modules.Conv1d or TorchSharp.Modules.Conv2d or TorchSharp.Modules.Linear)
            .Select(m => m.named_parameters(recurse: false).First(p => p.name == "weight").parameter);

    public static ProxyScores Compute(NetworkPlan plan, Tensor? inputs, Tensor? labels, long seed)
    {
        var synflow = Synflow(plan, seed);
        if (inputs is null || labels is null)
        {
            return new ProxyScores(synflow, null, null, null);
        }

        var (gradNorm, snip) = Gradients(plan, inputs, labels, seed);
        return new ProxyScores(synflow, gradNorm, snip, Naswot(plan, inputs, seed));
    }

    public static double Synflow(NetworkPlan plan, long seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        using var model = new InterpretedNetwork(plan);
        model.to(ScalarType.Float64);
        model.eval();
        using (torch.no_grad())
        {
            foreach (var p in model.parameters())
            {
                p.abs_();
            }
        }

        var input = plan.Canonical.Input;
        var ones = torch.ones([1, input.Channels, input.Resolution, input.Resolution], dtype: ScalarType.Float64);
        model.forward(ones).sum().backward();
        double total = 0;
        foreach (var p in ScoredWeights(model))
        {
            if (p.grad is { } g)
            {
                total += (p * g).abs().sum().item<double>();
            }
        }

        return total > 0 ? Math.Log10(total) : double.NegativeInfinity;
    }

    public static (double GradNorm, double Snip) Gradients(NetworkPlan plan, Tensor inputs, Tensor labels, long seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        using var model = new InterpretedNetwork(plan);
        model.train();
        nn.functional.cross_entropy(model.forward(inputs), labels).backward();
        double norm = 0, snip = 0;
        foreach (var p in ScoredWeights(model))
        {
            if (p.grad is { } g)
            {
                norm += g.norm().item<float>();
                snip += (p * g).abs().sum().item<float>();
            }
        }

        return (norm, snip);
    }

    public static double Naswot(NetworkPlan plan, Tensor inputs, long seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        using var model = new InterpretedNetwork(plan);
        model.eval();
        var batch = inputs.shape[0];
        var kernel = torch.zeros([batch, batch], dtype: ScalarType.Float64);
        var hooks = new List<Action>();
        foreach (var (_, module) in model.named_modules())
        {
            var type = module.GetType().Name;
            if (type is "ReLU" or "ReLU6" or "GELU" or "SiLU" or "Hardswish" or "LeakyReLU" or "Mish")
            {
                var remover = ((nn.Module<Tensor, Tensor>)module).register_forward_hook((_, _, output) =>
                {
                    var codes = output.detach().reshape(batch, -1).gt(0).to(ScalarType.Float64);
                    var agree = codes.matmul(codes.t()) + (1 - codes).matmul((1 - codes).t());
                    kernel.add_(agree);
                    return output;
                });
                hooks.Add(remover.remove);
            }
        }

        using (torch.no_grad())
        {
            model.forward(inputs);
        }

        foreach (var remove in hooks)
        {
            remove();
        }

        var (sign, logabsdet) = torch.linalg.slogdet(kernel);
        return sign.item<double>() > 0 ? logabsdet.item<double>() : double.NegativeInfinity;
    }

    /// <summary>Spearman's rank correlation (average ranks for ties).</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var rx = Ranks(x);
        var ry = Ranks(y);
        var mx = rx.Average();
        var my = ry.Average();
        double cov = 0, vx = 0, vy = 0;
        for (var i = 0; i < rx.Length; i++)
        {
            cov += (rx[i] - mx) * (ry[i] - my);
            vx += (rx[i] - mx) * (rx[i] - mx);
            vy += (ry[i] - my) * (ry[i] - my);
        }

        return cov / Math.Sqrt(vx * vy);
    }

    private static double[] Ranks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && values[order[j + 1]].Equals(values[order[i]]))
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[order[k]] = ((i + j) / 2.0) + 1;
            }

            i = j + 1;
        }

        return ranks;
    }
}
