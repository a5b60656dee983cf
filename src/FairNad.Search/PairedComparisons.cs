namespace FairNad.Search;

/// <summary>
/// One strategy against another at one budget on one dataset, paired on the same seeds: the mean paired difference of
/// the reported accuracy, a two-sided Wilcoxon signed-rank test, and its p-value adjusted by Holm's step-down correction
/// within the family it belongs to (every comparison of <see cref="Strategy"/> at this budget on this dataset), so a
/// reader can count significant differences without the family's size inflating them.
/// </summary>
/// <param name="MeanDifference">Mean over seeds of (strategy - other), in accuracy points; positive: the strategy is ahead. Pairs with a NaN (no result yet) are left out; NaN when none is left.</param>
/// <param name="Test">The paired Wilcoxon test (strategy as x, other as y).</param>
/// <param name="HolmP">The Wilcoxon p-value after Holm's correction over the <paramref name="FamilySize"/> comparisons of the family.</param>
public sealed record PairedComparison(string Dataset, int Budget, string Strategy, string Other, double MeanDifference, WilcoxonResult Test, double HolmP, int FamilySize)
{
    /// <summary>The family-wise error rate the "significant" reading uses.</summary>
    public const double Alpha = 0.05;

    /// <summary>The sign of the mean paired difference, from the strategy's side: better, worse or tied.</summary>
    public string Direction => MeanDifference > 0 ? "better" : MeanDifference < 0 ? "worse" : MeanDifference == 0 ? "tied" : "n/a";

    public bool Significant => HolmP < Alpha;
}

public static class PairedComparisons
{
    /// <summary>
    /// The family of <paramref name="strategy"/> against each of <paramref name="others"/> (in the order given) at one
    /// budget on one dataset, Holm-corrected together. Each sample holds one value per seed, in the same seed order.
    /// </summary>
    public static IReadOnlyList<PairedComparison> Family(string dataset, int budget, string strategy, IReadOnlyList<double> values,
        IReadOnlyList<(string Other, IReadOnlyList<double> Values)> others)
    {
        var tests = others.Select(o => Statistics.Wilcoxon(values, o.Values)).ToList();
        var holm = Statistics.Holm(tests.Select(t => t.P).ToList());
        return others.Select((o, i) => new PairedComparison(dataset, budget, strategy, o.Other, MeanDifference(values, o.Values), tests[i], holm[i], others.Count)).ToList();
    }

    /// <summary>
    /// Mean of the paired differences over pairs without a NaN (NaN if none); below 1e-9 in size it is floating-point
    /// residue of equal samples (sums of the same values in another order), so it reads 0 and the direction "tied".
    /// </summary>
    private static double MeanDifference(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var mean = x.Zip(y, (a, b) => a - b).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.NaN).Average();
        return Math.Abs(mean) < 1e-9 ? 0 : mean;
    }
}
