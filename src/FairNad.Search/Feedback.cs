using System.Globalization;
using System.Text;

namespace FairNad.Search;

/// <summary>What one mutation led to, against its parent.</summary>
/// <param name="Valid">The child validated, built and trained.</param>
/// <param name="AccuracyDelta">Child minus parent validation accuracy (percentage points), when both were measured.</param>
/// <param name="CostDelta">Child minus parent cost (parameters), when valid.</param>
/// <param name="FailureCategory">Why it failed (invalid-spec, diverged, timeout, ...), when it did.</param>
public sealed record MutationOutcome(string AttributeId, string CategoryId, bool Valid, double? AccuracyDelta, double? CostDelta, string? FailureCategory);

/// <summary>Aggregates of the outcomes for one attribute or one category.</summary>
public sealed record FeedbackStats(string Key, int Tries, int Valid, double MeanAccuracyDelta, double MeanCostDelta, int Improved, IReadOnlyDictionary<string, int> Failures)
{
    public double ValidRate => Tries == 0 ? 0 : (double)Valid / Tries;
}

/// <summary>
/// The fine-grained feedback loop's record: per attribute and per category, tries, valid rate, mean accuracy and cost
/// change against the parent, improvements and failure reasons. Used in sampling, in LLM prompts, and in the run's results.
/// </summary>
public sealed class FeedbackLedger
{
    private readonly List<MutationOutcome> _outcomes = [];

    public IReadOnlyList<MutationOutcome> Outcomes => _outcomes;

    public void Record(MutationOutcome outcome) => _outcomes.Add(outcome);

    public IReadOnlyList<FeedbackStats> ByAttribute() => Aggregate(o => o.AttributeId);

    public IReadOnlyList<FeedbackStats> ByCategory() => Aggregate(o => o.CategoryId);

    public FeedbackStats? For(string attributeId) => ByAttribute().FirstOrDefault(s => s.Key == attributeId);

    /// <summary>A few lines for an LLM prompt: what was tried for this attribute and its category, and how it went.</summary>
    public string PromptSummary(string attributeId, string categoryId)
    {
        var text = new StringBuilder();
        foreach (var stats in new[] { For(attributeId), ByCategory().FirstOrDefault(s => s.Key == categoryId) }.OfType<FeedbackStats>())
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

    private List<FeedbackStats> Aggregate(Func<MutationOutcome, string> key) =>
        _outcomes.GroupBy(key).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var accuracy = g.Where(o => o.AccuracyDelta is not null).Select(o => o.AccuracyDelta!.Value).ToList();
            var cost = g.Where(o => o.CostDelta is not null).Select(o => o.CostDelta!.Value).ToList();
            var failures = g.Where(o => o.FailureCategory is not null).GroupBy(o => o.FailureCategory!)
                .OrderBy(f => f.Key, StringComparer.Ordinal).ToDictionary(f => f.Key, f => f.Count(), StringComparer.Ordinal);
            return new FeedbackStats(g.Key, g.Count(), g.Count(o => o.Valid), accuracy.Count == 0 ? 0 : accuracy.Average(), cost.Count == 0 ? 0 : cost.Average(),
                accuracy.Count(d => d > 0), failures);
        }).ToList();
}
