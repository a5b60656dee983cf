using FairNad.Architecture;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FairNad.Data;
using FairNad.Evaluation;
using FairNad.Evaluation.Isolation;
using FairNad.Knowledge;
using FairNad.Lineage;
using FairNad.Llm;
using FairNad.Search;
using LibGit2Sharp;

namespace FairNad.Experiments;

/// <summary>What the user asked for: an experiment (file or a recorded run to resume) and where things go.</summary>
/// <param name="ExperimentPath">The experiment file; ignored on resume (the run's own copy is used).</param>
/// <param name="ResultsDirectory">Parent of the run folders (results/).</param>
/// <param name="RepositoryPath">Git repository that receives the lineage branches and notes.</param>
/// <param name="RunName">Run name; default &lt;experiment&gt;-&lt;strategy&gt;-s&lt;seed&gt;.</param>
/// <param name="Resume">Name of a recorded run to continue.</param>
/// <param name="Worker">How to start `fairnad evaluate` workers.</param>
/// <param name="LlmServer">Ollama server (default OLLAMA_HOST, else localhost:11434).</param>
/// <param name="TreePath">Attribute tree file (default: the curated tree).</param>
/// <param name="RecordedExperimentPath">The experiment's path as a recorded run named it (reproduction keeps it, so commits match).</param>
/// <param name="Evaluator">Replaces the experiment's evaluator (tests use a table-like evaluator to run the loop in milliseconds).</param>
public sealed record SearchRequest(
    string? ExperimentPath,
    ExperimentOverrides Overrides,
    string ResultsDirectory,
    string RepositoryPath,
    string? DataDirectory,
    string? RunName,
    string? Resume,
    WorkerCommand Worker,
    string? LlmServer = null,
    string? TreePath = null,
    Func<Experiment, ICandidateEvaluator>? Evaluator = null,
    string? RecordedExperimentPath = null);

/// <summary>Turns a request into runs (one per seed): loads and checks everything up front, then runs each.</summary>
public static class SearchSession
{
    public const string ExperimentCopy = "experiment.json";

    /// <summary>How often a failure of the machine (timeout, memory cap, a kill from outside) is retried before the run stops.</summary>
    public const int InfrastructureRetries = 2;

    /// <summary>
    /// A worker's resident-memory cap: twice the budget that predictions are held to. It only catches a prediction gone
    /// wrong (or memory the allocator keeps); reaching it is a failure of the infrastructure, retried and never recorded.
    /// </summary>
    public static long SafetyCap(long budgetBytes) => 2 * budgetBytes;

    /// <exception cref="ExperimentException">the experiment, the run folder or a resumed run is unusable; the message says which and why.</exception>
    public static async Task<IReadOnlyList<SearchOutcome>> RunAsync(SearchRequest request, Action<string> log, Action<SearchProgress>? progress = null, CancellationToken cancel = default)
    {
        var (experiment, experimentPath, runs) = Plan(request);
        var tree = request.TreePath is { } treePath ? AttributeTree.Read(File.ReadAllText(treePath), treePath) : AttributeTree.Default();
        var outcomes = new List<SearchOutcome>();
        foreach (var (seed, run) in runs)
        {
            cancel.ThrowIfCancellationRequested();
            var runDirectory = Path.GetFullPath(Path.Combine(request.ResultsDirectory, run));
            var resume = request.Resume is not null;
            if (!resume && File.Exists(Path.Combine(runDirectory, "manifest.json")))
            {
                throw new ExperimentException($"{runDirectory} already holds run '{run}'; continue it with --resume {run}, or name a new run with --run");
            }

            Directory.CreateDirectory(runDirectory);
            using var runLock = RunLock.Acquire(runDirectory, run);
            if (!resume && File.Exists(Path.Combine(runDirectory, "manifest.json")))
            {
                throw new ExperimentException($"{runDirectory} already holds run '{run}' (it was started meanwhile); continue it with --resume {run}, or name a new run with --run");
            }

            if (resume)
            {
                foreach (var (pid, command) in WorkerLifetime.EndStale(runDirectory))
                {
                    log($"ended worker {pid} left behind by an earlier runner of {run}: {command}");
                }
            }

            var effective = experiment with { Seeds = [seed] };
            if (!resume)
            {
                File.WriteAllText(Path.Combine(runDirectory, ExperimentCopy), effective.ToJson());
            }

            var config = effective.Fidelity.ToConfig(seed);
            try
            {
                TorchRuntime.Device(effective.Fidelity.Device);
            }
            catch (DeviceUnavailableException e)
            {
                throw new ExperimentException($"{experimentPath}: fidelity.device: {e.Message}");
            }

            log($"run {run}: {experimentPath}, {effective.Strategy}, seed {seed}, {effective.Candidates} candidates, budget {effective.ParameterBudget:N0} parameters, {effective.Dataset}");
            var splits = DatasetCatalog.Load(effective.Dataset, DatasetCatalog.DataDirectory(request.DataDirectory));
            log($"data {splits.Source}");
            // The chain around the trainer: memory decided before training (recorded), then failures of the machine retried (never recorded).
            var budget = (long)effective.Evaluation.MemoryMb << 20;
            using var evaluator = new MemoryBudgetEvaluator(
                new RetryingEvaluator(request.Evaluator?.Invoke(effective) ?? (effective.Evaluation.Isolated
                    ? (ICandidateEvaluator)new IsolatedEvaluator(request.Worker, effective.Dataset, request.DataDirectory, config,
                        new WorkerLimits(TimeSpan.FromSeconds(effective.Evaluation.TimeoutSeconds), SafetyCap(budget)), effective.Evaluation.Jobs, runDirectory)
                    : new InProcessEvaluator(effective.Dataset, request.DataDirectory, config)), InfrastructureRetries, log),
                effective.Dataset, config, budget, splits.Train.Pixels.LongLength + splits.Validation.Pixels.LongLength + splits.Test.Pixels.LongLength);
            using var lineage = LineageStore.Open(request.RepositoryPath);
            using var session = effective.DisabledMutations.Contains(MutationTypes.Llm) || effective.Strategy is "random" or "rea"
                ? null
                : await OpenLlmAsync(effective, runDirectory, request.LlmServer, cancel).ConfigureAwait(false);
            Func<ArchitectureSpace, ILlmMutator<ArchitectureSpec>>? mutator = session is null ? null : space => new LlmSpecMutator(session, space, GeneratedCodeCheck.Problem);
            log($"evaluation {evaluator.Description}");
            if (effective.Strategy.StartsWith("fairnad", StringComparison.Ordinal))
            {
                var mix = effective.Mutation.Effective(effective.DisabledMutations);
                log($"mutation {mix}{(effective.Llm.Mode == "off" && effective.Mutation.Llm > 0 ? " (LLM off: its share is redistributed)" : string.Empty)}");
            }

            var manifest = Manifest(effective, seed, run, experimentPath, request.RepositoryPath, splits, evaluator, session, tree);
            var context = new SearchContext(effective, seed, run, runDirectory, experimentPath, tree, lineage, evaluator, mutator, manifest, resume, log);
            outcomes.Add(await SearchRunner.RunAsync(context, progress, cancel).ConfigureAwait(false));
        }

        return outcomes;
    }

    private static (Experiment Experiment, string ExperimentPath, IReadOnlyList<(int Seed, string Run)> Runs) Plan(SearchRequest request)
    {
        // A run name becomes a folder and a git ref: check it before anything is read or written.
        foreach (var name in new[] { request.Resume, request.RunName }.OfType<string>())
        {
            CheckRunName(name, request.Resume == name ? "--resume" : "--run");
        }

        if (request.Resume is { } resume)
        {
            var copy = Path.Combine(request.ResultsDirectory, resume, ExperimentCopy);
            if (!File.Exists(copy))
            {
                throw new ExperimentException($"no run '{resume}' to resume: {copy} does not exist");
            }

            var recorded = ExperimentFile.Load(copy);
            var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(request.ResultsDirectory, resume, "manifest.json")))!;
            return (recorded, manifest["experiment"]!["path"]!.GetValue<string>(), [(recorded.Seeds[0], resume)]);
        }

        var path = request.ExperimentPath ?? throw new ExperimentException("no experiment: pass --experiment <file> or --dataset <name>");
        var experiment = ExperimentFile.Validated(request.Overrides.Apply(ExperimentFile.Load(path)), $"{path} (with the options given)");
        var relative = request.RecordedExperimentPath ?? RepositoryRelative(path, request.RepositoryPath);
        var runs = experiment.Seeds.Select(seed => (seed, request.RunName is { } name
            ? experiment.Seeds.Count == 1 ? name : $"{name}-s{seed}"
            : experiment.RunName(seed))).ToList();
        foreach (var (_, run) in runs)
        {
            CheckRunName(run, request.RunName is null ? $"{path}: the run name made of name, strategy and seed" : "--run");
        }

        return (experiment, relative, runs);
    }

    private static void CheckRunName(string run, string source)
    {
        try
        {
            LineageLayout.CheckRunName(run);
        }
        catch (LineageException e)
        {
            throw new ExperimentException($"{source}: {e.Message}; a run name is one folder under the results folder and one git ref component");
        }
    }

    private static string RepositoryRelative(string path, string repository)
    {
        var full = Path.GetFullPath(path);
        var root = Repository.Discover(Path.GetFullPath(repository)) is { } git ? new Repository(git).Info.WorkingDirectory : null;
        return root is not null && full.StartsWith(root, StringComparison.Ordinal)
            ? Path.GetRelativePath(root, full).Replace('\\', '/')
            : "experiments/" + Path.GetFileName(full);
    }

    private static async Task<LlmSession> OpenLlmAsync(Experiment experiment, string runDirectory, string? server, CancellationToken cancel)
    {
        var (mode, _) = LlmSettings.ParseChoice(experiment.Llm.Mode);
        var settings = new LlmSettings(experiment.Llm.Model, LlmSettings.ResolveServer(server), mode, Path.Combine(runDirectory, "llm"), MaxAttempts: experiment.Llm.MaxAttempts);
        return await LlmSession.OpenAsync(settings, LlmSpecMutator.Stage, cancel: cancel).ConfigureAwait(false);
    }

    private static RunManifestDocument Manifest(Experiment e, int seed, string run, string experimentPath, string repository, DatasetSplits splits,
        ICandidateEvaluator evaluator, LlmSession? session, AttributeTree tree)
    {
        string Hash(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        string ImageHash(ImageSet set) => Hash([.. set.Pixels, .. set.Labels.SelectMany(BitConverter.GetBytes)]);
        var effective = e.Strategy.StartsWith("fairnad", StringComparison.Ordinal) ? e.Mutation.Effective(e.DisabledMutations) : null;
        var treeText = tree.Write();
        return new RunManifestDocument(new JsonObject
        {
            ["schema"] = 1,
            ["run"] = run,
            ["seed"] = seed,
            ["strategy"] = e.Strategy,
            ["experiment"] = new JsonObject { ["path"] = experimentPath, ["name"] = e.Name, ["sha256"] = e.Hash(), ["copy"] = ExperimentCopy },
            ["harness"] = Harness(repository),
            ["runtime"] = new JsonObject
            {
                ["dotnet"] = Environment.Version.ToString(),
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                ["processorCount"] = Environment.ProcessorCount,
            },
            ["torch"] = new JsonObject
            {
                ["torchSharp"] = TorchRuntime.TorchSharpVersion,
                ["libtorch"] = TorchRuntime.LibTorchPackage,
                ["threadsPerCandidate"] = e.Fidelity.Threads,
                ["device"] = e.Fidelity.Device,
            },
            ["evaluation"] = evaluator.Description,
            ["dataset"] = new JsonObject
            {
                ["name"] = e.Dataset,
                ["source"] = splits.Source,
                ["splitRule"] = splits.SplitRule,
                ["train"] = ImageHash(splits.Train),
                ["validation"] = ImageHash(splits.Validation),
                ["test"] = ImageHash(splits.Test),
            },
            ["llm"] = new JsonObject
            {
                ["mode"] = session is null ? "off" : e.Llm.Mode,
                ["model"] = session?.Model.Name ?? e.Llm.Model,
                ["digest"] = session?.Model.Digest,
                ["maxAttempts"] = e.Llm.MaxAttempts,
            },
            ["mutation"] = effective is null ? null : new JsonObject
            {
                ["configured"] = new JsonObject(e.Mutation.Probabilities.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
                ["effective"] = new JsonObject(effective.Probabilities.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 6)))),
                ["disabled"] = new JsonArray([.. e.DisabledMutations.Select(d => (JsonNode)d)]),
                ["note"] = e.Llm.Mode == "off" && e.Mutation.Llm > 0 ? "the LLM is off, so LLM-driven mutation's share is redistributed over the other types" : null,
            },
            ["knowledge"] = new JsonObject
            {
                ["sha256"] = Hash(System.Text.Encoding.UTF8.GetBytes(treeText)),
                ["provenance"] = tree.Provenance.Method,
                ["attributes"] = tree.Attributes.Count(),
                ["realised"] = tree.Attributes.Count(a => a.Attribute.Realisations.Count > 0),
            },
        });
    }

    private static JsonObject Harness(string repository)
    {
        if (Repository.Discover(Path.GetFullPath(repository)) is not { } path)
        {
            return new JsonObject { ["commit"] = null, ["dirty"] = null };
        }

        using var git = new Repository(path);
        var dirty = !git.Info.IsBare && git.RetrieveStatus(new StatusOptions { IncludeUntracked = false, RecurseUntrackedDirs = false }).IsDirty;
        return new JsonObject { ["commit"] = git.Head.Tip?.Sha, ["dirty"] = git.Info.IsBare ? null : dirty };
    }
}
