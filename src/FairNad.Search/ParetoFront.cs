namespace FairNad.Search;

/// <summary>A candidate's objectives: accuracy to maximise, cost (parameters or MACs) to minimise.</summary>
/// <param name="Rung">
/// The fidelity rung the accuracy was measured at (0 without a ladder). Accuracies compare by <see cref="Outcome.RankKey"/>:
/// a higher rung's accuracy beats any lower rung's, so the front never weighs a short training against a long one.
/// </param>
public readonly record struct Objectives(string Id, double Accuracy, double Cost, int Rung = 0)
{
    /// <summary>The accuracy objective as compared: (rung, accuracy), lexicographically.</summary>
    public (int Rung, double Accuracy) Merit => (Rung, Accuracy);
}

/// <summary>Non-dominated sorting on (accuracy up, cost down).</summary>
public static class ParetoFront
{
    /// <summary>True when <paramref name="a"/> is at least as good in both objectives and better in one.</summary>
    public static bool Dominates(Objectives a, Objectives b) =>
        a.Merit.CompareTo(b.Merit) >= 0 && a.Cost <= b.Cost && (a.Merit.CompareTo(b.Merit) > 0 || a.Cost < b.Cost);

    /// <summary>The non-dominated points, by ascending cost (ties by id, so the order is deterministic). O(n log n): a sweep by cost.</summary>
    public static IReadOnlyList<Objectives> Front(IEnumerable<Objectives> points)
    {
        var front = new List<Objectives>();
        var best = (Rung: int.MinValue, Accuracy: double.NegativeInfinity);
        foreach (var group in points.GroupBy(p => p.Cost).OrderBy(g => g.Key))
        {
            // Within one cost only the most accurate survive; they survive the sweep if no cheaper point is as accurate.
            var top = group.Max(p => p.Merit);
            if (top.CompareTo(best) > 0)
            {
                front.AddRange(group.Where(p => p.Merit == top).OrderBy(p => p.Id, StringComparer.Ordinal));
                best = top;
            }
        }

        return front;
    }

    /// <summary>Front index of every point: 0 for the non-dominated front, 1 for the front after removing it, and so on.</summary>
    public static IReadOnlyDictionary<string, int> Ranks(IEnumerable<Objectives> points)
    {
        var remaining = points.ToList();
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var rank = 0; remaining.Count > 0; rank++)
        {
            var front = Front(remaining);
            foreach (var p in front)
            {
                ranks[p.Id] = rank;
            }

            var ids = front.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
            remaining = remaining.Where(p => !ids.Contains(p.Id)).ToList();
        }

        return ranks;
    }

    /// <summary>
    /// Each front member's exclusive hypervolume contribution (SMS-EMOA, Beume et al. 2007): the area of objective space
    /// that it alone dominates, so a member in a flat or crowded stretch of the front (a cheap corner whose accuracy barely
    /// rises above the next member's, a near-duplicate of a neighbour) contributes little and one that opens a stretch of
    /// its own contributes much. Both objectives are normalised to [0, 1] over the front itself (its ideal and nadir),
    /// accuracy lifted by 100 points per rung so a higher rung's result is above any lower one's: the unit is the front's
    /// spread, not parameters or percent, so the rule reads the same in any space. The reference point is the front's
    /// nadir moved out by 1/(n - 1) for a front of n members (Ishibuchi et al. 2018, "How to specify a reference point in
    /// hypervolume calculation for fair performance comparison"), so each extreme member weighs like an interior one on an
    /// evenly spread front. Not the population's nadir: the population holds broken candidates (near-chance accuracy), and
    /// measured from there the cheapest member's accuracy height is nearly the whole range, so the cheap corner would
    /// weigh most; at the front's own nadir without the margin an extreme member would weigh nothing.
    /// </summary>
    /// <param name="front">The front, as <see cref="Front"/> returns it (ascending cost, ascending accuracy).</param>
    /// <returns>Contributions in <paramref name="front"/>'s order, each at least 0.</returns>
    public static IReadOnlyList<double> HypervolumeContributions(IReadOnlyList<Objectives> front)
    {
        static double Lifted(Objectives p) => (100.0 * p.Rung) + p.Accuracy;
        if (front.Count == 0)
        {
            return [];
        }

        var (aMin, aMax) = (front.Min(Lifted), front.Max(Lifted));
        var (cMin, cMax) = (front.Min(p => p.Cost), front.Max(p => p.Cost));
        static double Scaled(double v, double min, double max) => max > min ? (v - min) / (max - min) : 0;

        // Both objectives as losses in [0, 1]: x the cost, y the accuracy short of the front's best.
        var x = front.Select(p => Scaled(p.Cost, cMin, cMax)).ToArray();
        var y = front.Select(p => 1 - Scaled(Lifted(p), aMin, aMax)).ToArray();
        var reference = 1 + (1.0 / Math.Max(1, front.Count - 1));
        var contributions = new double[front.Count];
        for (var i = 0; i < front.Count; i++)
        {
            var width = (i + 1 < front.Count ? x[i + 1] : reference) - x[i];
            var height = (i > 0 ? y[i - 1] : reference) - y[i];
            contributions[i] = Math.Max(0, width) * Math.Max(0, height);
        }

        return contributions;
    }

    /// <summary>
    /// The objective a front member is weak in: its accuracy rank and cost rank among the front (0 = best); the worse of the
    /// two names the objective ("accuracy" or "efficiency") whose attributes a Pareto-aware mutation should try.
    /// </summary>
    public static string WeakObjective(Objectives member, IReadOnlyList<Objectives> front)
    {
        var accuracyRank = front.Count(p => p.Merit.CompareTo(member.Merit) > 0);
        var costRank = front.Count(p => p.Cost < member.Cost);
        return accuracyRank > costRank ? "accuracy" : costRank > accuracyRank ? "efficiency" : (member.Accuracy >= front.Where(p => p.Rung == member.Rung).Average(p => p.Accuracy) ? "efficiency" : "accuracy");
    }
}
