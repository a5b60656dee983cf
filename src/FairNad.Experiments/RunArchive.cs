using System.Text.Json.Nodes;
using FairNad.Evaluation.Training;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>
/// A run folder, results/&lt;run&gt;/: its layout (every file name is here and nowhere else), its candidate records, the
/// queries over them (best, ranked, Pareto front, failures) and their persistence. The runner records through it, and
/// reports, reproduction, verification and the command line read through it, so they all see the same run the same way.
/// </summary>
public sealed class RunArchive
{
    /// <summary>The effective experiment the run was started with (overrides applied); a resume uses it.</summary>
    public const string ExperimentCopy = "experiment.json";

    public const string ManifestFile = "manifest.json";

    /// <summary>The hash-chained journal: one <see cref="CandidateRecord"/> per line.</summary>
    public const string JournalFile = "journal.jsonl";

    /// <summary>The result document of each candidate, candidates/&lt;id&gt;.json.</summary>
    public const string CandidatesFolder = "candidates";

    public const string FeedbackFile = "feedback.json";

    public const string SummaryFile = "summary.md";

    /// <summary>The run's recorded LLM exchanges (replayed on resume and by reproduction).</summary>
    public const string LlmFolder = "llm";

    public const string ReportFolder = "report";

    /// <summary>Scratch of the isolated evaluator (the files its workers read and write); not part of the record.</summary>
    public const string WorkersFolder = "workers";

    /// <summary>The Slurm jobs the run submitted (<see cref="Slurm.SlurmJobLog"/>): what a resumed run re-attaches to.</summary>
    public const string SlurmJobsFile = "slurm-jobs.jsonl";

    private IReadOnlyList<CandidateRecord>? _records;
    private IReadOnlyList<CandidateRecord>? _evaluations;

    /// <param name="directory">The run folder (results/&lt;run&gt;), as given: paths in messages keep its form.</param>
    /// <param name="run">The run's name; default the folder's name.</param>
    public RunArchive(string directory, string? run = null)
    {
        Directory = directory;
        Run = run ?? Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
    }

    public string Directory { get; }

    public string Run { get; }

    public string ExperimentPath => Path.Combine(Directory, ExperimentCopy);

    public string ManifestPath => Path.Combine(Directory, ManifestFile);

    public string JournalPath => Path.Combine(Directory, JournalFile);

    public string CandidatesDirectory => Path.Combine(Directory, CandidatesFolder);

    public string FeedbackPath => Path.Combine(Directory, FeedbackFile);

    public string SummaryPath => Path.Combine(Directory, SummaryFile);

    public string LlmDirectory => Path.Combine(Directory, LlmFolder);

    public string ReportDirectory => Path.Combine(Directory, ReportFolder);

    public string WorkersDirectory => Path.Combine(Directory, WorkersFolder);

    public string SlurmJobsPath => Path.Combine(Directory, SlurmJobsFile);

    /// <summary>The job log of a laddered run's later rung or a noise seed (<paramref name="scope"/>, e.g. r1s0): slurm-jobs.r1s0.jsonl.</summary>
    public string SlurmJobsPathFor(string scope) => Path.Combine(Directory, Path.GetFileNameWithoutExtension(SlurmJobsFile) + "." + scope + Path.GetExtension(SlurmJobsFile));

    /// <summary>Whether the folder holds a started run (its manifest is the first thing a run writes after the experiment copy).</summary>
    public bool HoldsRun => File.Exists(ManifestPath);

    /// <summary>Where a candidate's result document lives in a run folder.</summary>
    public static string ResultPath(string runDirectory, string candidateId) => Path.Combine(runDirectory, CandidatesFolder, $"{candidateId}.json");

    /// <summary>
    /// Where the result document of one evaluation lives: candidates/&lt;id&gt;.json for a candidate's first, and
    /// candidates/&lt;id&gt;.r&lt;rung&gt;[.s&lt;noise seed&gt;].json for a later rung or a noise measurement.
    /// </summary>
    public static string ResultPath(string runDirectory, string candidateId, int rung, int noiseSeed) => rung == 0 && noiseSeed == 0
        ? ResultPath(runDirectory, candidateId)
        : Path.Combine(runDirectory, CandidatesFolder, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{candidateId}.r{rung}{(noiseSeed == 0 ? string.Empty : $".s{noiseSeed}")}.json"));

    /// <summary>The result document of the evaluation <paramref name="record"/> records.</summary>
    public static string ResultPath(string runDirectory, CandidateRecord record) => ResultPath(runDirectory, record.Candidate, record.Rung, record.NoiseSeed);

    public string ResultPath(string candidateId) => ResultPath(Directory, candidateId);

    /// <summary>
    /// The folder's candidates in index order, each once: with a ladder, its evaluation at the highest rung it reached
    /// (<see cref="RunJournal.Current"/>); read from the journal once (its hash chain checked).
    /// </summary>
    /// <exception cref="ExperimentException">there is no journal, or it is damaged.</exception>
    public IReadOnlyList<CandidateRecord> Records => _records ??= RunJournal.Current(Evaluations);

    /// <summary>Every evaluation the journal records (each rung of a candidate, noise measurements), in the order they were recorded.</summary>
    /// <exception cref="ExperimentException">there is no journal, or it is damaged.</exception>
    public IReadOnlyList<CandidateRecord> Evaluations => _evaluations ??= ReadRecords();

    /// <summary>The best candidate by validation accuracy (ties: the earlier); null when none is valid.</summary>
    public CandidateRecord? Best => Ranked(Records).FirstOrDefault();

    public IReadOnlyList<CandidateRecord> Front(string costObjective) => Front(Records, costObjective);

    public Experiment ReadExperiment() => ExperimentFile.Load(ExperimentPath);

    /// <summary>The manifest, or null when the run has none.</summary>
    public JsonNode? ReadManifest() => File.Exists(ManifestPath) ? JsonNode.Parse(File.ReadAllText(ManifestPath)) : null;

    /// <summary>The experiment's path as the run recorded it (the path committed in its lineage root).</summary>
    /// <exception cref="ExperimentException">
    /// the run folder has no manifest naming the experiment: the run stopped after copying its experiment file and before
    /// its manifest and lineage root were written, so nothing of it was evaluated or committed.
    /// </exception>
    public string RecordedExperimentPath() => ReadManifest()?["experiment"]?["path"]?.GetValue<string>()
        ?? throw new ExperimentException(
            $"{ManifestPath} is missing or names no experiment path: run '{Run}' stopped before it recorded its start, so there is nothing to resume or reproduce; delete {Directory} and start the run again");

    /// <summary>
    /// The layout the run's lineage commits were written in (the manifest's lineage.format); 1 for a run recorded before
    /// the manifest named it, when layout 1 was the only one.
    /// </summary>
    public int LineageFormat() => ReadManifest()?["lineage"]?["format"]?.GetValue<int>() ?? 1;

    /// <summary>
    /// FairNAD's search rules the run was made with (the manifest's search.rules); 1 for a run recorded before the
    /// manifest named them, when version 1 was the only one.
    /// </summary>
    public int SearchRules() => ReadManifest()?["search"]?["rules"]?.GetValue<int>() ?? 1;

    /// <summary>Opens the journal for appending (creating it), after checking every line and the hash chain.</summary>
    public RunJournal OpenJournal() => RunJournal.Open(JournalPath, Run);

    public EvaluationResult ReadResult(string candidateId) => EvaluationResult.Parse(File.ReadAllText(ResultPath(candidateId)), ResultPath(candidateId));

    /// <summary>Writes a candidate's result document (atomically). The recorder is its only writer.</summary>
    public void WriteResult(string candidateId, EvaluationResult result, int rung = 0, int noiseSeed = 0)
    {
        System.IO.Directory.CreateDirectory(CandidatesDirectory);
        result.WriteAtomically(ResultPath(Directory, candidateId, rung, noiseSeed));
    }

    public void WriteFeedback(FeedbackLedger ledger, IReadOnlyList<FailedMutation> failed, IReadOnlyList<MutationCredit>? credit = null) => RunReports.WriteFeedback(FeedbackPath, ledger, failed, credit);

    public void WriteSummary(string text) => File.WriteAllText(SummaryPath, text);

    /// <summary>
    /// Adds one runner session's LLM use to the manifest (llm.use, one list of per-stage entries per session, since a
    /// resumed run's replayed answers cost nothing) and the models that answered (llm.changes, when a change of model was
    /// allowed). Execution figures, not results: nothing reads them back into a search.
    /// </summary>
    public void RecordLlmUse(IReadOnlyList<FairNad.Llm.LedgerEntry> entries, FairNad.Llm.ModelHistory models)
    {
        if (ReadManifest() is not JsonObject manifest || manifest["llm"] is not JsonObject llm)
        {
            return;
        }

        var use = llm["use"] as JsonArray ?? [];
        use.Add(new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
        {
            ["stage"] = e.Stage,
            ["calls"] = e.Calls,
            ["live"] = e.Live,
            ["replayed"] = e.Replayed,
            ["failed"] = e.Failed,
            ["promptTokens"] = e.PromptTokens,
            ["completionTokens"] = e.CompletionTokens,
            ["seconds"] = Math.Round(e.Seconds, 3),
        })]));
        llm["use"] = use.DeepClone();
        var history = models.Earlier.Append(models.Current).ToList();
        if (history.Count > 1)
        {
            llm["changes"] = new JsonArray([.. history.Zip(history.Skip(1), (from, to) => (JsonNode)new JsonObject { ["from"] = from.ToString(), ["to"] = to.ToString() })]);
        }

        JsonFiles.WriteAtomically(ManifestPath, manifest);
    }

    /// <summary>
    /// The Slurm jobs of the run so far in the manifest's executor entry (executor.jobs: candidate, job id, how it ended),
    /// from <see cref="SlurmJobsFile"/>; execution figures, not results. Nothing happens without a manifest or executor entry.
    /// </summary>
    public void RecordSlurmJobs(IReadOnlyList<Slurm.SlurmJobEntry> jobs)
    {
        if (ReadManifest() is not JsonObject manifest || manifest["executor"] is not JsonObject executor)
        {
            return;
        }

        executor["jobs"] = new JsonArray([.. jobs.Select(j => (JsonNode)new JsonObject { ["candidate"] = j.Candidate, ["job"] = j.Job, ["state"] = j.State })]);
        JsonFiles.WriteAtomically(ManifestPath, manifest);
    }

    /// <summary>The run's LLM use per stage, summed over every runner session the manifest recorded.</summary>
    public IReadOnlyList<FairNad.Llm.LedgerEntry> LlmUse()
    {
        if (ReadManifest()?["llm"]?["use"] is not JsonArray sessions)
        {
            return [];
        }

        return sessions.OfType<JsonArray>().SelectMany(s => s.OfType<JsonObject>())
            .Select(e => new FairNad.Llm.LedgerEntry(e["stage"]!.GetValue<string>(), e["calls"]!.GetValue<int>(), e["live"]!.GetValue<int>(), e["replayed"]!.GetValue<int>(),
                e["failed"]!.GetValue<int>(), e["promptTokens"]!.GetValue<long>(), e["completionTokens"]!.GetValue<long>(), e["seconds"]!.GetValue<double>()))
            .GroupBy(e => e.Stage, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.Aggregate((a, b) => a.Plus(b))).ToList();
    }

    /// <summary>Per attribute, how many mutations produced no candidate (feedback.json's failedMutations); empty without feedback.</summary>
    public IReadOnlyDictionary<string, int> FailedMutationsByAttribute()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        if (File.Exists(FeedbackPath) && JsonNode.Parse(File.ReadAllText(FeedbackPath))?["failedMutations"] is JsonArray failed)
        {
            foreach (var attribute in failed.Select(f => f?["attribute"]?.GetValue<string>()).OfType<string>())
            {
                counts[attribute] = counts.GetValueOrDefault(attribute) + 1;
            }
        }

        return counts;
    }

    /// <summary>
    /// Valid candidates, each once at its highest rung, best first: a higher rung before a lower one (the rule by which
    /// rungs compare, <see cref="Outcome.RankKey"/>), then the higher validation accuracy, ties by the earlier candidate.
    /// Without a ladder this is validation accuracy alone.
    /// </summary>
    public static IEnumerable<CandidateRecord> Ranked(IEnumerable<CandidateRecord> records) =>
        RunJournal.Current(records).Where(r => r.Ok).OrderByDescending(r => r.Rung).ThenByDescending(r => r.Validation).ThenBy(r => r.Index);

    public static CandidateRecord? BestOf(IEnumerable<CandidateRecord> records) => Ranked(records).FirstOrDefault();

    /// <summary>The non-dominated valid candidates (each at its highest rung; rungs compare as in <see cref="Ranked"/>): validation accuracy up, the cost objective down.</summary>
    public static IReadOnlyList<CandidateRecord> Front(IEnumerable<CandidateRecord> records, string costObjective)
    {
        var ok = RunJournal.Current(records).Where(x => x.Ok).ToDictionary(x => x.Candidate, StringComparer.Ordinal);
        return ParetoFront.Front(ok.Values.Select(x => new Objectives(x.Candidate, x.Validation!.Value, x.Cost(costObjective) ?? 0, x.Rung)))
            .Select(p => ok[p.Id]).ToList();
    }

    /// <summary>Failed candidates (at their highest rung) by failure category, categories in ordinal order.</summary>
    public static IReadOnlyDictionary<string, int> Failures(IEnumerable<CandidateRecord> records) =>
        RunJournal.Current(records).Where(x => !x.Ok).GroupBy(x => x.FailureCategory ?? "failed").OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    private IReadOnlyList<CandidateRecord> ReadRecords()
    {
        if (!File.Exists(JournalPath))
        {
            throw new ExperimentException($"{JournalPath} does not exist: the run recorded no candidate");
        }

        // Journal order is index order for first evaluations; promotions and noise measurements follow when they ran.
        return RunJournal.Read(JournalPath, Run);
    }
}
