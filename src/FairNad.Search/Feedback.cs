using System.Globalization;
using System.Text;

namespace FairNad.Search;

/// <summary>What one mutation led to, against its parent.</summary>
/// <param name="Valid">The child validated, built and trained.</param>
/// <param name="AccuracyDelta">Child minus parent validation accuracy (percentage points), when both were measured.</param>
/// <param name="CostDelta">Child minus parent cost (parameters), when valid.</param>
/// <param name="FailureCategory">Why it failed (invalid-spec, diverged, timeout, ...), when it did.</param>
/// <param name="Rung">The fidelity rung child and parent were compared at (0 without a ladder).</param>
public sealed record MutationOutcome(string AttributeId, string CategoryId, bool Valid, double? AccuracyDelta, double? CostDelta, string? FailureCategory, int Rung = 0);

/// <summary>Aggregates of the outcomes for one attribute or one category.</summary>
public sealed record FeedbackStats(string Key, int Tries, int Valid, double MeanAccuracyDelta, double MeanCostDelta, int Improved, IReadOnlyDictionary<string, int> Failures)
{
    public double ValidRate => Tries == 0 ? 0 : (double)Valid / Tries;
}

/// <summary>
/// The fine-grained feedback loop's record: per attribute and per category, tries, valid rate, mean accuracy and cost
/// change against the parent, improvements and failure reasons. Used in sampling, in LLM prompts, and in the run's results.
/// An accuracy change counts as an improvement only when it exceeds the noise threshold of its rung
/// (<see cref="SetNoise"/>: the seed-to-seed spread the run measured there); with none measured, any gain above zero counts.
/// </summary>
public sealed class FeedbackLedger
{
    private readonly List<MutationOutcome> _outcomes = [];
    private readonly SortedDictionary<int, double> _noise = [];
    private readonly SortedDictionary<string, Running> _byAttribute = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, Running> _byCategory = new(StringComparer.Ordinal);

    public IReadOnlyList<MutationOutcome> Outcomes => _outcomes;

    /// <summary>The noise threshold of each rung that has one (percentage points of validation accuracy).</summary>
    public IReadOnlyDictionary<int, double> Noise => _noise;

    /// <summary>
    /// Sets the threshold an accuracy gain at <paramref name="rung"/> must exceed to count as an improvement. It applies
    /// to every outcome at that rung, recorded before or after, so counts are the same whenever the spread was measured.
    /// </summary>
    public void SetNoise(int rung, double threshold)
    {
        if (!(threshold >= 0) || double.IsInfinity(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "a noise threshold is a finite number of percentage points, at least 0");
        }

        _noise[rung] = threshold;
    }

    /// <summary>Whether a change of <paramref name="delta"/> points at <paramref name="rung"/> counts as an improvement.</summary>
    public bool Improves(double delta, int rung) => delta > _noise.GetValueOrDefault(rung);

    /// <summary>Records an outcome; the aggregates are kept up to date here, so reading them costs nothing per outcome.</summary>
    public void Record(MutationOutcome outcome)
    {
        _outcomes.Add(outcome);
        Add(_byAttribute, outcome.AttributeId, outcome);
        Add(_byCategory, outcome.CategoryId, outcome);
    }

    public IReadOnlyList<FeedbackStats> ByAttribute() => _byAttribute.Select(kv => kv.Value.Stats(kv.Key, Improves)).ToList();

    public IReadOnlyList<FeedbackStats> ByCategory() => _byCategory.Select(kv => kv.Value.Stats(kv.Key, Improves)).ToList();

    public FeedbackStats? For(string attributeId) => _byAttribute.TryGetValue(attributeId, out var r) ? r.Stats(attributeId, Improves) : null;

    /// <summary>Failures minus half the improvements of an attribute: what fair sampling adds to its trial count.</summary>
    public double Penalty(string attributeId) => _byAttribute.TryGetValue(attributeId, out var r) ? r.FailureCount - (0.5 * r.Improved(Improves)) : 0;

    /// <summary>A few lines for an LLM prompt: what was tried for this attribute and its category, and how it went.</summary>
    public string PromptSummary(string attributeId, string categoryId)
    {
        var text = new StringBuilder();
        foreach (var stats in new[] { For(attributeId), _byCategory.TryGetValue(categoryId, out var c) ? c.Stats(categoryId, Improves) : null }.OfType<FeedbackStats>())
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{stats.Key}: {stats.Tries} tries, {stats.Valid} valid, {stats.Improved} improved accuracy, mean accuracy change {stats.MeanAccuracyDelta:+0.00;-0.00;0.00} points, mean parameter change {stats.MeanCostDelta:+0;-0;0}");
            if (stats.Failures.Count > 0)
            {
                text.Append("; failures: ").Append(string.Join(", ", stats.Failures.Select(f => $"{f.Key} x{f.Value}")));
            }

            text.Append('\n');
        }

        return text.Length == 0 ? "no earlier tries\n" : text.ToString();
    }

    private static void Add(SortedDictionary<string, Running> aggregates, string key, MutationOutcome outcome)
    {
        if (!aggregates.TryGetValue(key, out var running))
        {
            aggregates[key] = running = new Running();
        }

        running.Add(outcome);
    }

    private sealed class Running
    {
        private readonly SortedDictionary<string, int> _failures = new(StringComparer.Ordinal);
        private readonly List<(double Delta, int Rung)> _deltas = [];
        private int _tries;
        private int _valid;
        private double _accuracySum;
        private int _accuracyCount;
        private double _costSum;
        private int _costCount;

        public int FailureCount { get; private set; }

        public void Add(MutationOutcome o)
        {
            _tries++;
            _valid += o.Valid ? 1 : 0;
            if (o.AccuracyDelta is { } a)
            {
                _accuracySum += a;
                _accuracyCount++;
                _deltas.Add((a, o.Rung));
            }

            if (o.CostDelta is { } c)
            {
                _costSum += c;
                _costCount++;
            }

            if (o.FailureCategory is { } f)
            {
                _failures[f] = _failures.GetValueOrDefault(f) + 1;
                FailureCount++;
            }
        }

        /// <summary>Changes that count as improvements under <paramref name="improves"/> (the ledger's noise rule, applied when asked).</summary>
        public int Improved(Func<double, int, bool> improves)
        {
            var count = 0;
            foreach (var (delta, rung) in _deltas)
            {
                count += improves(delta, rung) ? 1 : 0;
            }

            return count;
        }

        public FeedbackStats Stats(string key, Func<double, int, bool> improves) => new(key, _tries, _valid, _accuracyCount == 0 ? 0 : _accuracySum / _accuracyCount,
            _costCount == 0 ? 0 : _costSum / _costCount, Improved(improves), new Dictionary<string, int>(_failures, StringComparer.Ordinal));
    }
}
