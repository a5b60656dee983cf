using System.Globalization;
using FairNad.Evaluation.Training;
using FairNad.Lineage;

namespace FairNad.Experiments;

/// <summary>
/// The three records of a candidate must agree: the journal line, the result document (candidates/&lt;id&gt;.json) and the
/// git record (the branch's commit and its metrics note). Resuming checks this before trusting the journal, and
/// `fairnad lineage verify` reports it; each finding names the candidate, the field and the three values.
/// </summary>
public static class RunAudit
{
    /// <summary>Where a candidate's result document lives in a run folder (<see cref="RunArchive.ResultPath(string, string)"/>).</summary>
    public static string ResultPath(string runDirectory, string candidateId) => RunArchive.ResultPath(runDirectory, candidateId);

    /// <summary>One line per disagreement between the journal, the result documents and the lineage; empty when all agree.</summary>
    public static IReadOnlyList<string> CrossCheck(string runDirectory, string run, IReadOnlyList<CandidateRecord> entries, LineageStore lineage)
    {
        var findings = new List<string>();
        var branches = lineage.Candidates(run).ToDictionary(c => c.CandidateId, StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => e.Index).ThenBy(e => e.Rung).ThenBy(e => e.NoiseSeed))
        {
            var who = $"candidate {entry.Candidate[..12]} (#{entry.Index}{(entry.Rung > 0 ? $", rung {entry.Rung}" : string.Empty)}{(entry.IsNoise ? $", noise seed +{entry.NoiseSeed}" : string.Empty)})";
            var path = RunArchive.ResultPath(runDirectory, entry);
            var file = Path.Combine(RunArchive.CandidatesFolder, Path.GetFileName(path));
            EvaluationResult? result = null;
            if (!File.Exists(path))
            {
                findings.Add($"{who}: the journal records it, but {file} does not exist");
            }
            else
            {
                try
                {
                    result = EvaluationResult.Parse(File.ReadAllText(path), path);
                }
                catch (FormatException e)
                {
                    findings.Add($"{who}: {e.Message}");
                }
            }

            CandidateMetrics? note = null;
            if (!branches.TryGetValue(entry.Candidate, out var stored))
            {
                findings.Add($"{who}: the journal records commit {entry.Commit[..12]}, but the branch {LineageLayout.CandidateBranch(run, entry.Candidate)} does not exist");
            }
            else
            {
                if (stored.Commit != entry.Commit)
                {
                    findings.Add($"{who}: commit: journal {entry.Commit[..12]}, branch {stored.Commit[..12]}");
                }

                // A candidate's first evaluation has its note in the run's notes ref, each later rung one in that rung's ref; a
                // noise measurement has none (the journal and its result document record it).
                note = entry.IsNoise ? null : lineage.GetMetrics(run, stored.Commit, entry.Rung == 0 ? null : entry.Rung);
                if (note is null && !entry.IsNoise)
                {
                    findings.Add($"{who}: the journal records a result, but commit {stored.Commit[..12]} has no metrics note{(entry.Rung == 0 ? string.Empty : $" in {LineageLayout.RungNotesRef(run, entry.Rung)}")}");
                }
            }

            if (result is not null && result.CandidateId != entry.Candidate)
            {
                findings.Add($"{who}: {file} is the result of candidate {result.CandidateId[..12]}");
            }

            Compare(findings, who, file, "status", entry.Status, result?.Status, note?.Status, result is not null, note is not null);
            Compare(findings, who, file, "validation accuracy", Text(entry.Validation), Text(result?.BestValidationAccuracy), Text(note?.ValidationAccuracy), result is not null, note is not null);
            Compare(findings, who, file, "test accuracy", Text(entry.Test), Text(result?.TestAccuracy), Text(note?.TestAccuracy), result is not null, note is not null);
            Compare(findings, who, file, "failure", entry.FailureCategory, result?.FailureCategory, note?.FailureReason?.Split(':')[0], result is not null, note is not null);
        }

        return findings;
    }

    private static void Compare(List<string> findings, string who, string file, string field, string? journal, string? result, string? note, bool haveResult, bool haveNote)
    {
        if ((haveResult && result != journal) || (haveNote && note != journal))
        {
            findings.Add($"{who}: {field} differs: journal {journal ?? "none"}, {file} {(haveResult ? result ?? "none" : "missing")}, note {(haveNote ? note ?? "none" : "missing")}");
        }
    }

    private static string? Text(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);
}
