using System.Text.Json;
using FairNad.Architecture;
using FairNad.Evaluation.Training;
using LibGit2Sharp;

namespace FairNad.Experiments.Tests;

/// <summary>
/// A scratch workspace per test: a git repository for the lineage, a results folder, and a small experiment. The evaluator
/// stands in for training with a deterministic function of the architecture (a table, in effect), so the search loop,
/// lineage, journal and resume run in milliseconds; the slow tests train for real.
/// </summary>
public sealed class SearchFixture : IDisposable
{
    public SearchFixture()
    {
        Root = Directory.CreateTempSubdirectory("fairnad-search-").FullName;
        Repository.Init(Root);
        ExperimentPath = Path.Combine(Root, "experiments", "tiny.json");
        Directory.CreateDirectory(Path.GetDirectoryName(ExperimentPath)!);
        Write(Tiny);
    }

    public string Root { get; }

    public string ExperimentPath { get; }

    public string Results => Path.Combine(Root, "results");

    /// <summary>
    /// A quick experiment: four references at 20k parameters, batches of two, ten candidates, LLM off, no ladder. Its
    /// description is fixed here rather than taken from the quickstart, because it is part of the recorded experiment and
    /// so of the commit ids that report snapshots pin.
    /// </summary>
    public static Experiment Tiny => ExperimentFile.Read(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "experiments", "quickstart.json")), "quickstart") with
    {
        Name = "tiny",
        Description = "FairNAD on the Fashion-MNIST subset embedded in the repository: tiny models (20k parameters), one epoch on 2,000 images in batches of 25 without augmentation (every seed learns at this fidelity; see experiments/README.md), two workers.",
        Ladder = null,
        Llm = new LlmOptions("off", "qwen2.5:7b-instruct", 3),
        References = ["resnet", "mobilenetv2", "shufflenetv2", "convnext"],
        Population = 4,
        Candidates = 10,
        Fidelity = new Fidelity(1, 50, 0.05, 200, 100, true, 1, 1),
        Evaluation = new EvaluationOptions(1, false, 300, 4096),
    };

    public void Write(Experiment experiment) => File.WriteAllText(ExperimentPath, experiment.ToJson());

    public SearchRequest Request(ExperimentOverrides? overrides = null, string? resume = null, Func<Experiment, ICandidateEvaluator>? evaluator = null, string? results = null, string? repository = null,
        string? llmServer = null, bool train = false) =>
        new(ExperimentPath, overrides ?? new ExperimentOverrides(), results ?? Results, repository ?? Root, null, null, resume,
            WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll")), llmServer, null, train ? null : evaluator ?? (_ => new SyntheticEvaluator()));

    public static IReadOnlyList<SearchOutcome> Run(SearchRequest request, Action<SearchProgress>? progress = null, CancellationToken cancel = default) =>
        SearchSession.RunAsync(request, _ => { }, progress, cancel).GetAwaiter().GetResult();

    /// <summary>What must be identical between two runs of the same experiment and seed.</summary>
    public static IReadOnlyList<string> Fingerprint(IEnumerable<CandidateRecord> entries) => entries.OrderBy(e => e.Index).Select(e =>
        JsonSerializer.Serialize(new { e.Index, e.Candidate, e.MutationType, e.Attribute, e.Parents, e.Status, e.Validation, e.Test, e.Parameters, e.Macs, e.FailureCategory, e.Commit })).ToList();

    /// <summary>JSON fields that measure time or name the host: they differ between any two runs and feed no result.</summary>
    public static readonly IReadOnlyList<string> Timings = ["trainSeconds", "elapsedSeconds", "imagesPerSecond", "latencyMs", "latencyBatch1Ms", "latencyBatch64Ms", "workerHost", "previous", "peakResidentBytes"];

    /// <summary>The run folder's result documents, feedback and journal, with <see cref="Timings"/> removed, by file name.</summary>
    public static IReadOnlyDictionary<string, string> RecordedFiles(string runDirectory)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(Path.Combine(runDirectory, "candidates"), "*.json").Where(p => !p.EndsWith(".spec.json", StringComparison.Ordinal) && !p.EndsWith(".config.json", StringComparison.Ordinal)))
        {
            files["candidates/" + Path.GetFileName(path)] = WithoutTimings(File.ReadAllText(path));
        }

        files["feedback.json"] = File.Exists(Path.Combine(runDirectory, "feedback.json")) ? File.ReadAllText(Path.Combine(runDirectory, "feedback.json")) : "(none)";
        files["journal.jsonl"] = string.Join("\n", File.ReadAllLines(Path.Combine(runDirectory, RunJournal.FileName)).Select(WithoutTimings));
        return files;
    }

    private static string WithoutTimings(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        foreach (var field in Timings)
        {
            node.Remove(field);
        }

        return node.ToJsonString();
    }

    public void Dispose()
    {
        foreach (var file in Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }

        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Scores an architecture by a fixed function of its size and id; optional overrides fail chosen candidates.</summary>
public sealed class SyntheticEvaluator(Func<ArchitectureSpec, EvaluationResult?>? special = null) : ICandidateEvaluator
{
    private int _calls;

    public string Description => "synthetic (test)";

    /// <summary>How many candidates this evaluator was asked for.</summary>
    public int Calls => _calls;

    public int Parallelism => 2;

    public Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default)
    {
        Interlocked.Increment(ref _calls);
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        var jitter = Convert.ToInt32(spec.Id[..4], 16) / 65536.0 * 10;
        var score = Math.Round(40 + (20.0 * analysis.Parameters / 20000) + jitter, 4);
        var result = special?.Invoke(spec) ?? new EvaluationResult
        {
            CandidateId = spec.Id,
            Dataset = "fashion-mnist",
            Config = TrainingConfig.Quick,
            Status = "ok",
            BestValidationAccuracy = score,
            TestAccuracy = score - 0.5,
            Parameters = analysis.Parameters,
            Macs = analysis.Macs,
        };
        return Task.FromResult(result);
    }

    public void Dispose()
    {
    }
}
