namespace FairNad.Search;

/// <summary>Paired significance: the Wilcoxon signed-rank test.</summary>
/// <param name="N">Pairs with a non-zero difference (zeros are dropped, Wilcoxon's convention).</param>
/// <param name="WPlus">Sum of the ranks of positive differences (x greater).</param>
/// <param name="Z">Normal approximation with tie correction and continuity correction.</param>
/// <param name="P">Two-sided p-value.</param>
public sealed record WilcoxonResult(int N, double WPlus, double Z, double P);

public static class Statistics
{
    public static double Mean(IReadOnlyCollection<double> values) => values.Count == 0 ? double.NaN : values.Average();

    /// <summary>Sample standard deviation (n - 1).</summary>
    public static double StandardDeviation(IReadOnlyCollection<double> values)
    {
        if (values.Count < 2)
        {
            return 0;
        }

        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    /// <summary>
    /// Two-sided Wilcoxon signed-rank test of paired samples (same seeds), normal approximation with tie and continuity
    /// corrections; adequate from about 20 non-zero pairs, which the benchmark's 100 seeds give. A pair with a NaN (a run
    /// with no result yet, e.g. one that found no cell of a partial table) is dropped like a zero difference.
    /// </summary>
    public static WilcoxonResult Wilcoxon(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var (ranks, positive, tieCorrection) = SignedRanks(x, y);
        var n = ranks.Length;
        if (n == 0)
        {
            return new WilcoxonResult(0, 0, 0, 1);
        }

        var wPlus = Enumerable.Range(0, n).Where(i => positive[i]).Sum(i => ranks[i]);
        var mean = n * (n + 1) / 4.0;
        var variance = (n * (n + 1) * ((2 * n) + 1) / 24.0) - (tieCorrection / 48.0);
        if (variance <= 0)
        {
            return new WilcoxonResult(n, wPlus, 0, 1);
        }

        var deviation = wPlus - mean;
        var z = (deviation - (Math.Sign(deviation) * 0.5)) / Math.Sqrt(variance);
        return new WilcoxonResult(n, wPlus, z, Math.Min(1, 2 * NormalUpperTail(Math.Abs(z))));
    }

    /// <summary>
    /// The exact two-sided p of the Wilcoxon signed-rank test (the same pairs as <see cref="Wilcoxon"/>: zeros and NaNs
    /// dropped, tied magnitudes given their mean rank): the share of the 2^n sign assignments whose W+ lies at least as far
    /// from n(n+1)/4 as the observed one; and the smallest p any data with these n non-zero pairs could give (2 / 2^n:
    /// 0.25 for n = 3). The normal approximation is poor below about 20 pairs; this is what a handful of seeds supports.
    /// </summary>
    /// <exception cref="ArgumentException">the samples differ in length, or have more than 24 non-zero pairs (use the normal approximation).</exception>
    public static (double P, double SmallestPossibleP) WilcoxonExact(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var (ranks, positive, _) = SignedRanks(x, y);
        var n = ranks.Length;
        if (n == 0)
        {
            return (1, 1);
        }

        if (n > 24)
        {
            throw new ArgumentException($"{n} pairs: the exact test enumerates 2^n sign assignments; use the normal approximation");
        }

        var mean = n * (n + 1) / 4.0;
        var observed = Math.Abs(Enumerable.Range(0, n).Where(i => positive[i]).Sum(i => ranks[i]) - mean);
        var extreme = 0L;
        var total = 1L << n;
        for (var signs = 0L; signs < total; signs++)
        {
            var wPlus = 0.0;
            for (var i = 0; i < n; i++)
            {
                if ((signs & (1L << i)) != 0)
                {
                    wPlus += ranks[i];
                }
            }

            if (Math.Abs(wPlus - mean) >= observed - 1e-9)
            {
                extreme++;
            }
        }

        return ((double)extreme / total, Math.Min(1, 2.0 / total));
    }

    /// <summary>
    /// The ranks of the non-zero paired differences' magnitudes (ascending; ties share their mean rank), whether each
    /// difference is positive, and the tie correction sum of (t^3 - t) over tied groups. Pairs with a zero or NaN
    /// difference are dropped.
    /// </summary>
    private static (double[] Ranks, bool[] Positive, double TieCorrection) SignedRanks(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count)
        {
            throw new ArgumentException($"paired samples differ in length ({x.Count} and {y.Count})");
        }

        var ordered = x.Zip(y, (a, b) => a - b).Where(d => d != 0 && !double.IsNaN(d)).Select(d => (Abs: Math.Abs(d), Positive: d > 0)).OrderBy(d => d.Abs).ToList();
        var n = ordered.Count;
        var ranks = new double[n];
        var tieCorrection = 0.0;
        for (var i = 0; i < n;)
        {
            var j = i;
            while (j + 1 < n && ordered[j + 1].Abs == ordered[i].Abs)
            {
                j++;
            }

            var rank = (i + j + 2) / 2.0;
            for (var k = i; k <= j; k++)
            {
                ranks[k] = rank;
            }

            var t = j - i + 1;
            tieCorrection += (t * t * t) - t;
            i = j + 1;
        }

        return (ranks, [.. ordered.Select(d => d.Positive)], tieCorrection);
    }

    /// <summary>
    /// Holm's step-down correction of a family of p-values (Holm 1979), in the order given: the i-th smallest of m is
    /// multiplied by m - i + 1, each adjusted value is at least the one before it in sorted order (so the adjustment
    /// keeps the p-values' order), and none exceeds 1. It controls the family-wise error rate under any dependence
    /// between the tests, which the benchmark's comparisons have (they share FairNAD's runs); R's p.adjust(p, "holm").
    /// </summary>
    public static IReadOnlyList<double> Holm(IReadOnlyList<double> p)
    {
        for (var i = 0; i < p.Count; i++)
        {
            if (double.IsNaN(p[i]) || p[i] < 0 || p[i] > 1)
            {
                throw new ArgumentException($"p-value {i} is {p[i]}; a p-value lies in [0, 1]");
            }
        }

        var order = Enumerable.Range(0, p.Count).OrderBy(i => p[i]).ThenBy(i => i).ToList();
        var adjusted = new double[p.Count];
        var running = 0.0;
        for (var rank = 0; rank < order.Count; rank++)
        {
            running = Math.Max(running, Math.Min(1, (p.Count - rank) * p[order[rank]]));
            adjusted[order[rank]] = running;
        }

        return adjusted;
    }

    /// <summary>P(Z > z) for a standard normal, via erfc (W. J. Cody's rational approximation as in Numerical Recipes' erfcc, |error| below 1.2e-7).</summary>
    public static double NormalUpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + (0.5 * z));
        double[] c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
        var poly = 0.0;
        for (var i = c.Length - 1; i >= 1; i--)
        {
            poly = (poly + c[i]) * t;
        }

        var r = t * Math.Exp(-(z * z) + c[0] + poly);
        return x >= 0 ? r : 2 - r;
    }
}
