namespace FairNad.Search;

/// <summary>A candidate's objectives: accuracy to maximise, cost (parameters or MACs) to minimise.</summary>
public readonly record struct Objectives(string Id, double Accuracy, double Cost);

/// <summary>Non-dominated sorting on (accuracy up, cost down).</summary>
public static class ParetoFront
{
    /// <summary>True when <paramref name="a"/> is at least as good in both objectives and better in one.</summary>
    public static bool Dominates(Objectives a, Objectives b) =>
        a.Accuracy >= b.Accuracy && a.Cost <= b.Cost && (a.Accuracy > b.Accuracy || a.Cost < b.Cost);

    /// <summary>The non-dominated points, by ascending cost (ties by id, so the order is deterministic). O(n log n): a sweep by cost.</summary>
    public static IReadOnlyList<Objectives> Front(IEnumerable<Objectives> points)
    {
        var front = new List<Objectives>();
        var best = double.NegativeInfinity;
        foreach (var group in points.GroupBy(p => p.Cost).OrderBy(g => g.Key))
        {
            // Within one cost only the most accurate survive; they survive the sweep if no cheaper point is as accurate.
            var top = group.Max(p => p.Accuracy);
            if (top > best)
            {
                front.AddRange(group.Where(p => p.Accuracy == top).OrderBy(p => p.Id, StringComparer.Ordinal));
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
    /// The objective a front member is weak in: its accuracy rank and cost rank among the front (0 = best); the worse of the
    /// two names the objective ("accuracy" or "efficiency") whose attributes a Pareto-aware mutation should try.
    /// </summary>
    public static string WeakObjective(Objectives member, IReadOnlyList<Objectives> front)
    {
        var accuracyRank = front.Count(p => p.Accuracy > member.Accuracy);
        var costRank = front.Count(p => p.Cost < member.Cost);
        return accuracyRank > costRank ? "accuracy" : costRank > accuracyRank ? "efficiency" : (member.Accuracy >= front.Average(p => p.Accuracy) ? "efficiency" : "accuracy");
    }
}
