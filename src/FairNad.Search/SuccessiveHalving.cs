namespace FairNad.Search;

/// <summary>A decision of the scheduler: train candidate <paramref name="Key"/> again, at rung <paramref name="Rung"/>.</summary>
public sealed record Promotion(string Key, int Rung);

/// <summary>
/// Asynchronous successive halving (ASHA, Li et al. 2020), made deterministic: a small object the search consults, in the
/// manner of Optuna's pruners and Ray Tune's schedulers, rather than a branch of the trial loop. Every candidate starts on
/// rung 0; whenever a slot is free the search asks <see cref="NextPromotion"/> first and starts a new candidate only when
/// it returns null. A candidate is promotable from rung r when it is among the top
/// ⌊n × <see cref="Fraction"/>⌋ of the n results recorded at r so far, and was not promoted from r before; the highest
/// rung is served first, and within a rung the most accurate (ties: the earlier recorded). Decisions depend only on the
/// results reported (<see cref="Report"/>) and their order, never on when they arrived, so a run replayed from its journal
/// makes the same promotions.
/// </summary>
public sealed class SuccessiveHalving
{
    private readonly List<List<(string Key, double? Accuracy, int Order)>> _results;
    private readonly List<HashSet<string>> _promoted;
    private int _reported;

    /// <param name="rungs">How many rungs the ladder has (at least 2).</param>
    /// <param name="fraction">The top fraction of a rung that is promoted, in (0, 1); 1/η in ASHA's terms.</param>
    public SuccessiveHalving(int rungs, double fraction)
    {
        if (rungs < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(rungs), rungs, "a ladder has at least two rungs");
        }

        if (!(fraction > 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the promoted fraction must be above 0 and below 1");
        }

        Rungs = rungs;
        Fraction = fraction;
        _results = [.. Enumerable.Range(0, rungs).Select(_ => new List<(string, double?, int)>())];
        _promoted = [.. Enumerable.Range(0, rungs).Select(_ => new HashSet<string>(StringComparer.Ordinal))];
    }

    public int Rungs { get; }

    public double Fraction { get; }

    /// <summary>How many of <paramref name="count"/> results at a rung may be promoted (a small epsilon keeps 0.34 x 3 = 1 and 1/3 x 3 = 1 alike).</summary>
    public int Quota(int count) => (int)Math.Floor((count * Fraction) + 1e-9);

    /// <summary>Records a result at <paramref name="rung"/>; <paramref name="accuracy"/> null for a failed evaluation (never promoted).</summary>
    /// <exception cref="ArgumentException">the candidate already has a result at that rung, or was never promoted to it.</exception>
    public void Report(string key, int rung, double? accuracy)
    {
        if (rung < 0 || rung >= Rungs)
        {
            throw new ArgumentOutOfRangeException(nameof(rung), rung, $"the ladder has rungs 0 to {Rungs - 1}");
        }

        if (_results[rung].Any(r => r.Key == key))
        {
            throw new ArgumentException($"candidate {key} already has a result at rung {rung}", nameof(key));
        }

        if (rung > 0 && !_promoted[rung - 1].Contains(key))
        {
            throw new ArgumentException($"candidate {key} was not promoted to rung {rung}", nameof(key));
        }

        _results[rung].Add((key, accuracy, _reported++));
    }

    /// <summary>The results at <paramref name="rung"/> in the order they were reported.</summary>
    public IReadOnlyList<(string Key, double? Accuracy)> Results(int rung) => [.. _results[rung].Select(r => (r.Key, r.Accuracy))];

    /// <summary>
    /// The next promotion, or null when no candidate qualifies now. The promotion counts as made from the moment it is
    /// returned (the candidate is not offered again), whether or not its result has arrived.
    /// </summary>
    public Promotion? NextPromotion()
    {
        for (var rung = Rungs - 2; rung >= 0; rung--)
        {
            var results = _results[rung];
            var top = results.Where(r => r.Accuracy is not null).OrderByDescending(r => r.Accuracy!.Value).ThenBy(r => r.Order).Take(Quota(results.Count));
            foreach (var (key, _, _) in top)
            {
                if (_promoted[rung].Add(key))
                {
                    return new Promotion(key, rung + 1);
                }
            }
        }

        return null;
    }
}

/// <summary>
/// The seed-to-seed noise of a rung: the same architectures trained with different seeds. The spread is the pooled
/// sample standard deviation over architectures (each architecture's deviations from its own mean); a difference between
/// two single-seed results then has standard deviation spread × √2, which is the threshold a gain must exceed to count as
/// an improvement.
/// </summary>
public static class SeedNoise
{
    /// <summary>The pooled standard deviation of <paramref name="groups"/> (accuracies of one architecture per group); null when no group has two values.</summary>
    public static double? PooledSpread(IEnumerable<IReadOnlyList<double>> groups)
    {
        double squares = 0;
        var freedom = 0;
        foreach (var group in groups.Where(g => g.Count >= 2))
        {
            var mean = group.Average();
            squares += group.Sum(x => (x - mean) * (x - mean));
            freedom += group.Count - 1;
        }

        return freedom == 0 ? null : Math.Sqrt(squares / freedom);
    }

    /// <summary>The improvement threshold for a spread: the standard deviation of the difference of two independent results.</summary>
    public static double Threshold(double spread) => spread * Math.Sqrt(2);
}
