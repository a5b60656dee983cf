using System.Globalization;
using FairNad.Lineage;

namespace FairNad.Experiments;

/// <summary>One way a re-executed run differs from its record.</summary>
/// <param name="Index">Position in the run.</param>
/// <param name="Field">candidate, rung, noise seed, commit, status, validation, test, parameters, macs or count.</param>
/// <param name="Size">How far apart numbers are (absolute); null for identities.</param>
public sealed record ReproductionDifference(int Index, string? Candidate, string Field, string Recorded, string Reproduced, double? Size)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"#{Index} {Candidate?[..Math.Min(12, Candidate.Length)] ?? "-"} {Field}: recorded {Recorded}, reproduced {Reproduced}{(Size is { } s ? $" (difference {s:G6})" : string.Empty)}");
}

/// <summary>The comparison: every difference, and whether any exceeds the tolerance.</summary>
public sealed record ReproductionReport(string Run, int Compared, double Tolerance, IReadOnlyList<ReproductionDifference> Differences)
{
    public bool Passed => Differences.Count == 0;
}

/// <summary>
/// Reproduce: re-executes a recorded run from its own experiment copy and seed, with the LLM in replay mode over the run's
/// recorded exchanges, into a scratch results folder and a scratch lineage repository, and compares candidates, commit ids
/// and metrics with the record, evaluation by evaluation in the order recorded (each rung of a laddered run, and each
/// noise measurement, is compared on its own). Identities (candidate, commit, status, parameters, MACs) must match exactly; accuracies
/// within the tolerance: 0 for a CPU run (bit-exact), else the given one. It trains where the recorded run trained
/// (local workers or Slurm jobs) unless told otherwise.
/// </summary>
public static class Reproduction
{
    public static async Task<ReproductionReport> RunAsync(string resultsDirectory, string run, WorkerCommand worker, string? dataDirectory, double? tolerance = null,
        Func<Experiment, ICandidateEvaluator>? evaluator = null, Action<string>? log = null, Action<SearchProgress>? progress = null, CancellationToken cancel = default,
        string? executor = null, FairNad.Experiments.Slurm.SlurmCommands? slurm = null)
    {
        LineageLayout.CheckRunName(run); // before any path is built from it
        var archive = new RunArchive(Path.Combine(resultsDirectory, run), run);
        if (!File.Exists(archive.ExperimentPath))
        {
            throw new ExperimentException($"no recorded run '{run}': {archive.ExperimentPath} does not exist");
        }

        var experiment = archive.ReadExperiment();
        // The tree the run searched with (its path and hash are in the manifest): a reproduction with another is refused up front.
        var knowledge = KnowledgeSource.ForRecordedRun(null, archive.ManifestPath, "reproduction");
        var recorded = archive.Evaluations;
        var allowed = tolerance ?? (experiment.Fidelity.Device == "cpu" ? 0 : 0.5);
        var scratch = Directory.CreateTempSubdirectory($"fairnad-reproduce-{run}-").FullName;
        try
        {
            var repository = Path.Combine(scratch, "lineage.git");
            LineageStore.Open(repository, create: true).Dispose();
            var results = Path.Combine(scratch, "results");
            var transcripts = archive.LlmDirectory;
            if (Directory.Exists(transcripts))
            {
                var target = new RunArchive(Path.Combine(results, run), run).LlmDirectory;
                Directory.CreateDirectory(target);
                foreach (var file in Directory.GetFiles(transcripts))
                {
                    File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
                }
            }

            var experimentPath = Path.Combine(scratch, "experiments", $"{experiment.Name}.json");
            Directory.CreateDirectory(Path.GetDirectoryName(experimentPath)!);
            File.WriteAllText(experimentPath, experiment.ToJson());
            var replay = experiment.Llm.Mode == "off" ? null : "replay";
            // Where it trains cannot change a result (the executor is no part of the lineage): a Slurm run re-executes locally or on Slurm, and a local one on Slurm.
            var request = new SearchRequest(experimentPath, new ExperimentOverrides(LlmMode: replay, Executor: executor), results, repository, dataDirectory, run, null, worker, Evaluator: evaluator,
                RecordedExperimentPath: archive.RecordedExperimentPath(), Slurm: slurm, TreePath: knowledge.Path, LineageFormat: archive.LineageFormat(), SearchRules: archive.SearchRules());
            var outcome = (await SearchSession.RunAsync(request, log ?? (_ => { }), progress, cancel).ConfigureAwait(false)).Single();
            return new ReproductionReport(run, outcome.AllEvaluations.Count, allowed, Compare(recorded, outcome.AllEvaluations, allowed));
        }
        finally
        {
            foreach (var file in Directory.EnumerateFiles(scratch, "*", SearchOption.AllDirectories))
            {
                File.SetAttributes(file, FileAttributes.Normal);
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    public static IReadOnlyList<ReproductionDifference> Compare(IReadOnlyList<CandidateRecord> recorded, IReadOnlyList<CandidateRecord> reproduced, double tolerance)
    {
        var differences = new List<ReproductionDifference>();
        if (recorded.Count != reproduced.Count)
        {
            differences.Add(new ReproductionDifference(Math.Min(recorded.Count, reproduced.Count), null, "count",
                recorded.Count.ToString(CultureInfo.InvariantCulture), reproduced.Count.ToString(CultureInfo.InvariantCulture), Math.Abs(recorded.Count - reproduced.Count)));
        }

        foreach (var (r, p) in recorded.Zip(reproduced))
        {
            void Same(string field, string? a, string? b)
            {
                if (a != b)
                {
                    differences.Add(new ReproductionDifference(r.Index, r.Candidate, field, a ?? "null", b ?? "null", null));
                }
            }

            void Near(string field, double? a, double? b)
            {
                if (a is null || b is null ? a != b : Math.Abs(a.Value - b.Value) > tolerance)
                {
                    differences.Add(new ReproductionDifference(r.Index, r.Candidate, field, Text(a), Text(b), a is { } x && b is { } y ? Math.Abs(x - y) : null));
                }
            }

            Same("candidate", r.Candidate, p.Candidate);
            Same("rung", r.Rung.ToString(CultureInfo.InvariantCulture), p.Rung.ToString(CultureInfo.InvariantCulture));
            Same("noise seed", r.NoiseSeed.ToString(CultureInfo.InvariantCulture), p.NoiseSeed.ToString(CultureInfo.InvariantCulture));
            Same("commit", r.Commit, p.Commit);
            Same("status", r.Status, p.Status);
            Same("parameters", r.Parameters?.ToString(CultureInfo.InvariantCulture), p.Parameters?.ToString(CultureInfo.InvariantCulture));
            Same("macs", r.Macs?.ToString(CultureInfo.InvariantCulture), p.Macs?.ToString(CultureInfo.InvariantCulture));
            Near("validation", r.Validation, p.Validation);
            Near("test", r.Test, p.Test);
        }

        return differences;
    }

    private static string Text(double? value) => value?.ToString("G12", CultureInfo.InvariantCulture) ?? "null";
}
