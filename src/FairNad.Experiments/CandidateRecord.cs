using System.Globalization;
using FairNad.Architecture;
using FairNad.Evaluation.Training;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>
/// One evaluated candidate as the run records it: where it came from, what it scored, and its commit. This is the one
/// record of a candidate: the journal persists it line by line (its properties, in this order, are the line's JSON, so
/// renaming or reordering them changes the hash chain of every run), the metrics note and the report rows are views of it.
/// </summary>
/// <param name="Previous">SHA-256 (hex) of the journal's previous line, or of the run's genesis text for the first line: the hash chain.</param>
/// <param name="Rung">The ladder rung this evaluation trained at; 0 (and then left out of the line) without a ladder and for a candidate's first evaluation.</param>
/// <param name="NoiseSeed">
/// For a noise measurement (an extra training seed of a seed architecture, not a search step): the offset added to the
/// run's seed; 0 (left out of the line) for the candidate's own evaluations.
/// </param>
public sealed record CandidateRecord(
    int Index,
    string Candidate,
    string MutationType,
    string? Attribute,
    string? Category,
    IReadOnlyList<string> Parents,
    string? Transcript,
    string Summary,
    string Status,
    double? Validation,
    double? Test,
    long? Parameters,
    long? Macs,
    double? LatencyMs,
    string? FailureCategory,
    string? FailureMessage,
    string Commit,
    double TrainSeconds,
    double ElapsedSeconds,
    string? Previous = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] int Rung = 0,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] int NoiseSeed = 0)
{
    public bool Ok => Status == "ok";

    /// <summary>Whether this line is a noise measurement rather than an evaluation of the search.</summary>
    [System.Text.Json.Serialization.JsonIgnore] // derived: not part of the line, whose form fixes the hash chain
    public bool IsNoise => NoiseSeed != 0;

    /// <summary>What identifies this evaluation in the journal: the candidate, and for a later rung or a noise seed, those too.</summary>
    [System.Text.Json.Serialization.JsonIgnore] // derived: not part of the line, whose form fixes the hash chain
    public string Key => RunJournal.Key(Candidate, Rung, NoiseSeed);

    /// <summary>The cost objective's value (parameters or MACs).</summary>
    public long? Cost(string costObjective) => costObjective == "macs" ? Macs : Parameters;

    /// <summary>What the strategy is told about this candidate.</summary>
    public Outcome ToOutcome(string costObjective) => Ok ? new Outcome(Validation, Cost(costObjective), Rung: Rung) : Outcome.Failed(FailureCategory ?? "failed") with { Rung = Rung };

    /// <summary>
    /// The record of <paramref name="proposal"/>, evaluated as <paramref name="result"/>, before it has a commit. When the
    /// analysis lacks the measured cost of an LLM-written operator (<see cref="ArchitectureAnalysis.Unmeasured"/>), the
    /// parameters and MACs are recorded as unknown rather than as an undercount.
    /// </summary>
    public static CandidateRecord Of(Proposal<ArchitectureSpec> proposal, int index, EvaluationResult result, ArchitectureAnalysis analysis, double elapsedSeconds, int rung = 0, int noiseSeed = 0)
    {
        var ok = result.Status == "ok";
        return new CandidateRecord(index, proposal.Key, proposal.MutationType, proposal.Attribute, proposal.Category, proposal.Parents, proposal.Transcript, proposal.Summary,
            ok ? "ok" : "failed", result.BestValidationAccuracy, result.TestAccuracy, analysis.Unmeasured.Count == 0 ? analysis.Parameters : null, analysis.Unmeasured.Count == 0 ? analysis.Macs : null, result.LatencyBatch1Ms,
            ok ? null : result.FailureCategory, ok ? null : result.FailureMessage, string.Empty, result.TrainSeconds, elapsedSeconds, Rung: rung, NoiseSeed: noiseSeed);
    }

    /// <summary>The metrics note of this record in the lineage; what the record does not hold (worker host, extra numbers) comes from the result document.</summary>
    public CandidateMetrics ToNote(Experiment experiment, EvaluationResult result)
    {
        var fidelity = experiment.FidelityAt(Rung);
        return new CandidateMetrics(
            Status,
            Validation,
            Test,
            Parameters,
            Macs,
            LatencyMs,
            Ok ? null : $"{FailureCategory}: {FailureMessage}",
            (experiment.Ladder is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"rung {Rung} of {experiment.RungCount}: ")) +
            string.Create(CultureInfo.InvariantCulture, $"{experiment.Dataset} {fidelity.Epochs} epoch(s), {fidelity.TrainSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"} training images"),
            string.IsNullOrEmpty(result.WorkerHost) ? null : result.WorkerHost,
            new Dictionary<string, double> { ["trainSeconds"] = result.TrainSeconds, ["lastValidationAccuracy"] = result.LastValidationAccuracy ?? double.NaN }
                .Where(kv => !double.IsNaN(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
    }
}
