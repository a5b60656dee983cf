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
/// <item>synflow (data-free): see <see cref="Synflow"/> and <see cref="SynflowCopy"/>; reported as log10.</item>
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

    /// <summary>
    /// Names how <see cref="Synflow"/> computes its score; stored next to every score a benchmark writes, so that scores of
    /// another recipe are never mixed with this one's.
    /// </summary>
    public const string SynflowRecipe = "synflow-zero-cost-nas-nb201-copy";

    /// <summary>
    /// synflow (Tanaka et al. 2020) as zero-cost-nas measures it on NAS-Bench-201 (Abdelfattah et al. 2021): on the
    /// network's "prunable copy" (<see cref="SynflowCopy"/>), in double precision, with every parameter and buffer made
    /// absolute, the sum over convolution and linear weights of |theta * d(sum of outputs)/d theta| for a single all-ones
    /// input; reported as log10 (it spans hundreds of orders of magnitude), -infinity when no weight gets a gradient.
    /// Data-free: it depends only on the plan (cell, input resolution, classes) and the seed of the weights.
    /// </summary>
    public static double Synflow(NetworkPlan plan, long seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        using var model = new InterpretedNetwork(plan);
        SynflowCopy(model);
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

    /// <summary>
    /// Turns a freshly built network, in place, into the network zero-cost-nas scores synflow on: its
    /// <c>NAS201Model.get_prunable_copy(bn=False)</c>, a copy of the model rebuilt with <c>use_bn=False</c> and put in
    /// training mode. That copy differs from NB201's trained network (which <see cref="InterpretedNetwork"/> builds, and
    /// which stays as it is) in three ways, reproduced here rather than in the product's network:
    /// <list type="bullet">
    /// <item>Batch norm is gone from the stem, the cell edges and the head. Here each such BatchNorm2d becomes an exact
    /// identity (eval mode with eps 0 over its initial statistics: (x - 0) / sqrt(1) * 1 + 0), not the near-identity
    /// x / sqrt(1 + 1e-5) of eval mode, so that the copy computes the same function.</item>
    /// <item>The residual reduction blocks keep their batch norm (the reference builds them without the use_bn switch),
    /// and since the copy is in training mode they normalise with the statistics of the one all-ones input: their
    /// output no longer scales with their weights or with what the first stages feed them.</item>
    /// <item>The cell edges' convolutions carry a bias (the reference's search cells are built with affine=False, hence
    /// bias=not affine); it is drawn after the network, as PyTorch initialises a convolution's bias (uniform within
    /// 1/sqrt(fan-in)), so the network's own weights are those of the same seed.</item>
    /// </list>
    /// Then, as the reference does, every parameter and buffer (its state dict) is made absolute and the model is cast to
    /// double. Generic plans get the same treatment: every batch norm outside a residual reduction removed, nothing else
    /// changed.
    /// </summary>
    public static void SynflowCopy(InterpretedNetwork model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.eval();
        var modules = model.named_modules().Select(m => m.module).ToList();
        var reductionNorms = modules.OfType<ResidualReduction>().SelectMany(r => r.modules()).OfType<TorchSharp.Modules.BatchNorm2d>().ToHashSet();
        using (torch.no_grad())
        {
            foreach (var edge in modules.OfType<InterpretedBlock>().SelectMany(b => b.modules()).OfType<TorchSharp.Modules.Sequential>().Where(IsReluConvBn))
            {
                var conv = (TorchSharp.Modules.Conv2d)edge.children().ElementAt(1);
                var weight = conv.weight!;
                var bound = 1 / Math.Sqrt(weight.shape[1] * weight.shape[2] * weight.shape[3]);
                conv.bias = new TorchSharp.Modules.Parameter(torch.empty(weight.shape[0], dtype: weight.dtype).uniform_(-bound, bound));
            }

            model.to(ScalarType.Float64);
            foreach (var p in model.parameters())
            {
                p.abs_();
            }

            foreach (var b in model.buffers())
            {
                b.abs_();
            }
        }

        foreach (var norm in modules.OfType<TorchSharp.Modules.BatchNorm2d>())
        {
            if (reductionNorms.Contains(norm))
            {
                norm.train();
            }
            else
            {
                norm.eps = 0;
            }
        }
    }

    /// <summary>NB201's ReLU-Conv-BN edge as <see cref="Layers.ReluConvBn"/> builds it.</summary>
    private static bool IsReluConvBn(TorchSharp.Modules.Sequential sequence)
    {
        var children = sequence.children().ToList();
        return children.Count == 3 && children[0] is TorchSharp.Modules.ReLU && children[1] is TorchSharp.Modules.Conv2d && children[2] is TorchSharp.Modules.BatchNorm2d;
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
