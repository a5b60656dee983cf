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
