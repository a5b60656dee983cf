using System.Globalization;
using System.Text;

namespace FairNad.Search;

/// <summary>What one mutation led to, against its parent.</summary>
/// <param name="Valid">The child validated, built and trained.</param>
/// <param name="AccuracyDelta">Child minus parent validation accuracy (percentage points), when both were measured.</param>
/// <param name="CostDelta">Child minus parent cost (parameters), when valid.</param>
/// <param name="FailureCategory">Why it failed (invalid-spec, diverged, timeout, ...), when it did.</param>
/// <param name="Rung">The fidelity rung child and parent were compared at (0 without a ladder).</param>
/// <param name="NotApplicable">
/// The attribute has no realisation that applies to the parent it was tried on: no candidate was made, and nothing was
/// learnt about whether the attribute helps or harms, so it is counted apart (<see cref="FeedbackStats.NotApplicable"/>),
/// neither as a try nor as a failure (search rules 2; rules 1 recorded it as the failure "not-applicable").
/// </param>
public sealed record MutationOutcome(string AttributeId, string CategoryId, bool Valid, double? AccuracyDelta, double? CostDelta, string? FailureCategory, int Rung = 0,
    bool NotApplicable = false);

/// <summary>Aggregates of the outcomes for one attribute or one category.</summary>
/// <param name="NotApplicable">Parents the attribute was drawn for but had no realisation for (not tries, not failures).</param>
/// <param name="Measured">Tries with a measured change against the parent (valid, parent at the same rung): what the mean changes are over.</param>
public sealed record FeedbackStats(string Key, int Tries, int Valid, double MeanAccuracyDelta, double MeanCostDelta, int Improved, IReadOnlyDictionary<string, int> Failures,
    int NotApplicable = 0, int Measured = 0)
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

    /// <summary>
    /// Valid tries with a measured change that an attribute needs before its effect is read from the ledger
    /// (<see cref="MeasuredEffect"/>): the fewest for which a mean is more than one or two draws.
    /// </summary>
    public const int EffectEvidence = 3;

    /// <summary>
    /// The effect an attribute was seen to have, once it has <see cref="EffectEvidence"/> measured tries: "efficiency"
    /// when its children were on average cheaper than their parents (mean cost change below 0), else "accuracy" (what
    /// does not save cost is worth trying only for accuracy). Null before that: the declared tag stands in.
    /// </summary>
    public string? MeasuredEffect(string attributeId) =>
        _byAttribute.TryGetValue(attributeId, out var r) && r.Stats(attributeId, Improves) is { Measured: >= EffectEvidence } s
            ? s.MeanCostDelta < 0 ? "efficiency" : "accuracy"
            : null;

    /// <summary>
    /// Failures minus half the improvements of an attribute: what fair sampling adds to its trial count. Inapplicability
    /// (<see cref="MutationOutcome.NotApplicable"/>) is no failure: it says the parent lacked what the attribute changes,
    /// not that the attribute harms, and counting it would starve attributes that apply to few architectures.
    /// </summary>
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

            if (stats.NotApplicable > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"; not applicable to {stats.NotApplicable} parent(s) (not counted as failures)");
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
        private int _notApplicable;

        public int FailureCount { get; private set; }

        public void Add(MutationOutcome o)
        {
            if (o.NotApplicable)
            {
                _notApplicable++;
                return;
            }

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
            _costCount == 0 ? 0 : _costSum / _costCount, Improved(improves), new Dictionary<string, int>(_failures, StringComparer.Ordinal), _notApplicable, _costCount);
    }
}
