using FairNad.Architecture;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FairNad.Data;
using FairNad.Evaluation;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
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
/// <param name="LlmAllowModelChange">Go on when the server's model differs from the one the run's transcripts were recorded with (--llm-allow-model-change).</param>
/// <param name="DownloadData">Download the dataset (checksummed) when the data directory lacks it, before anything else is done (--download-data).</param>
/// <param name="DataHttp">The client that downloads use (default: a new one); tests pass one that cannot reach the servers.</param>
/// <param name="DataRequirements">
/// Test-only: the record counts the dataset files must have, checksums waived, so a test can run a search on small files
/// written in the real formats. The command line never sets it; with isolated workers (which load the data themselves,
/// to the official requirements) it is refused.
/// </param>
/// <param name="Slurm">How the Slurm commands run for executor.kind slurm (default: from PATH, with this process's environment); tests point them at their own cluster.</param>
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
    string? RecordedExperimentPath = null,
    FairNad.Llm.LlmRetryPolicy? LlmRetry = null,
    bool LlmAllowModelChange = false,
    bool DownloadData = false,
    HttpClient? DataHttp = null,
    DataRequirements? DataRequirements = null,
    FairNad.Experiments.Slurm.SlurmCommands? Slurm = null,
    int? LineageFormat = null,
    int? SearchRules = null);

/// <summary>
/// One run of a request, assembled in one place: it holds the run's lock, builds the search space, the evaluator chain, the
/// LLM mutator and the manifest, loads the dataset once (for the manifest's hashes and for in-process training), and
/// releases all of it when disposed. <see cref="RunAsync(SearchRequest, Action{string}, Action{SearchProgress}?, CancellationToken)"/>
/// turns a request into runs (one per seed), each checked up front and then run.
/// </summary>
public sealed class SearchSession : IDisposable
{
    /// <summary>The run folder's experiment copy (<see cref="RunArchive.ExperimentCopy"/>, where the name is defined).</summary>
    public const string ExperimentCopy = RunArchive.ExperimentCopy;

    /// <summary>How often a failure of the machine (timeout, memory cap, a kill from outside) is retried before the run stops.</summary>
    public const int InfrastructureRetries = 2;

    private readonly List<IDisposable> _owned = [];
    private readonly List<Slurm.SlurmJobLog> _slurmLogs = [];

    private SearchSession()
    {
    }

    /// <summary>Everything the runner needs (set by <see cref="OpenAsync"/>, which returns only open sessions).</summary>
    public SearchContext Context { get; private set; } = null!;

    /// <summary>
    /// A worker's resident-memory cap: twice the budget that predictions are held to. It only catches a prediction gone
    /// wrong (or memory the allocator keeps); reaching it is a failure of the infrastructure, retried and never recorded.
    /// </summary>
    public static long SafetyCap(long budgetBytes) => 2 * budgetBytes;

    /// <exception cref="ExperimentException">the experiment, the run folder or a resumed run is unusable; the message says which and why.</exception>
    public static async Task<IReadOnlyList<SearchOutcome>> RunAsync(SearchRequest request, Action<string> log, Action<SearchProgress>? progress = null, CancellationToken cancel = default)
    {
        var (experiment, experimentPath, runs) = Plan(request);
        // A resumed run takes the tree its manifest records (and refuses another); a new run the --tree file or the curated tree.
        var recorded = request.Resume is { } resumed ? new RunArchive(Path.Combine(request.ResultsDirectory, resumed), resumed) : null;
        var tree = recorded is null
            ? KnowledgeSource.Load(request.TreePath)
            : KnowledgeSource.ForRecordedRun(request.TreePath, recorded.ManifestPath, "resume");
        CheckRealised(tree, experiment);
        var outcomes = new List<SearchOutcome>();
        foreach (var (seed, run) in runs)
        {
            cancel.ThrowIfCancellationRequested();
            using var session = await OpenAsync(request, experiment with { Seeds = [seed] }, experimentPath, tree, run, log, cancel).ConfigureAwait(false);
            outcomes.Add(await SearchRunner.RunAsync(session.Context, progress, cancel).ConfigureAwait(false));
        }

        return outcomes;
    }

    /// <summary>
    /// An extracted tree may hold attributes without a realisation (LLM-driven mutation realises them when first drawn;
    /// the rule-based mutations skip them). A tree with none realised leaves the rule-based mutations and the baselines
    /// nothing to apply, so such a run is refused before anything is written, naming the tree.
    /// </summary>
    private static void CheckRealised(KnowledgeSource knowledge, Experiment e)
    {
        if (knowledge.Tree.Attributes.Any(a => a.Attribute.Realisations.Count > 0))
        {
            return;
        }

        var mix = e.Choice.DrawsMutations ? e.Choice.Mix(e.Mutation) : null;
        if (mix is { FairIdea: 0, Pareto: 0 })
        {
            return; // LLM-driven mutation only: it realises attributes itself
        }

        throw new ExperimentException(
            $"attribute tree {knowledge.Name}: no attribute has a realisation, so {(mix is null ? $"strategy {e.Strategy}" : "fair-idea and Pareto-aware mutation")} would have nothing to apply; " +
            "use a tree with realisations (the curated tree, or an extracted one, whose linked and filled attributes keep theirs), or give LLM-driven mutation the whole mix");
    }

    /// <summary>Opens run <paramref name="run"/> of <paramref name="effective"/> (one seed): refusals come before anything is written.</summary>
    public static async Task<SearchSession> OpenAsync(SearchRequest request, Experiment effective, string experimentPath, KnowledgeSource tree, string run, Action<string> log,
        CancellationToken cancel = default)
    {
        var session = new SearchSession();
        try
        {
            await session.BuildAsync(request, effective, experimentPath, tree, run, log, cancel).ConfigureAwait(false);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Releases what the session holds, the run's lock last.</summary>
    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
    }

    private T Own<T>(T resource)
        where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    private async Task BuildAsync(SearchRequest request, Experiment effective, string experimentPath, KnowledgeSource knowledge, string run, Action<string> log, CancellationToken cancel)
    {
        var tree = knowledge.Tree;
        var seed = effective.Seeds[0];
        var archive = new RunArchive(Path.GetFullPath(Path.Combine(request.ResultsDirectory, run)), run);
        var resume = request.Resume is not null;
        if (!resume && archive.HoldsRun)
        {
            throw new ExperimentException($"{archive.Directory} already holds run '{run}'; continue it with --resume {run}, or name a new run with --run");
        }

        // The device and the data are checked (and the data fetched) before anything is written: a run that cannot start
        // leaves no folder behind, and CI learns what to place where before any work.
        try
        {
            // On Slurm the jobs' nodes train, not this machine: a GPU run is submitted from a login node without one.
            if (effective.Executor is not { IsSlurm: true })
            {
                TorchRuntime.Device(effective.Fidelity.Device);
            }
        }
        catch (DeviceUnavailableException e)
        {
            throw new ExperimentException($"{experimentPath}: fidelity.device: {e.Message}");
        }

        if (effective.Executor is { IsSlurm: true } slurm && request.Evaluator is null)
        {
            // Before anything is written or loaded: a cluster that cannot take the jobs is said at once, naming the command.
            await Slurm.SlurmExecutor.PreflightAsync(slurm, slurm.JobDirectory, request.Slurm, cancel).ConfigureAwait(false);
        }

        // The seed population too: a reference that cannot be scaled to a share of the budget is said before any folder is made.
        var seeds = Seeds(effective);
        log($"run {run}: {experimentPath}{(effective.Profile is { } profile ? $" (profile {profile})" : string.Empty)}, {effective.Strategy}, seed {seed}, {effective.Candidates} candidates, budget {effective.ParameterBudget:N0} parameters, {effective.Dataset}");
        var splits = await LoadDataAsync(request, effective.Dataset, log, cancel).ConfigureAwait(false);
        log($"data {splits.Source}");
        Directory.CreateDirectory(archive.Directory);
        Own(RunLock.Acquire(archive.Directory, run));
        if (!resume && archive.HoldsRun)
        {
            throw new ExperimentException($"{archive.Directory} already holds run '{run}' (it was started meanwhile); continue it with --resume {run}, or name a new run with --run");
        }

        if (resume)
        {
            foreach (var (pid, command) in WorkerLifetime.EndStale(archive.Directory))
            {
                log($"ended worker {pid} left behind by an earlier runner of {run}: {command}");
            }
        }

        if (!resume)
        {
            File.WriteAllText(archive.ExperimentPath, effective.ToJson());
        }

        // Every candidate's first evaluation: at the ladder's rung 0, else (FidelityAt(0) is then the fidelity itself) as always.
        var first = effective with { Fidelity = effective.FidelityAt(0) };
        var config = first.Fidelity.ToConfig(seed);
        var evaluator = Own(Evaluator(request, first, config, archive, splits, log, resume));

        // Later rungs and noise seeds: the same chain at that rung's fidelity and seed, made when first needed, each with
        // a scratch folder of its own (a candidate may be in training at two seeds at once).
        var evaluators = new Dictionary<(int, int), ICandidateEvaluator>();
        var gate = new Lock();
        ICandidateEvaluator EvaluatorAt(int rung, int noiseSeed)
        {
            lock (gate)
            {
                if (!evaluators.TryGetValue((rung, noiseSeed), out var found))
                {
                    var at = effective with { Fidelity = effective.FidelityAt(rung), Seeds = [seed + noiseSeed] };
                    var scratch = Path.Combine(archive.WorkersDirectory, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"r{rung}s{noiseSeed}"));
                    evaluators[(rung, noiseSeed)] = found = Own(Evaluator(request, at, at.Fidelity.ToConfig(seed + noiseSeed), archive, splits, log, resume, scratch));
                }

                return found;
            }
        }

        var lineage = Own(LineageStore.Open(request.RepositoryPath));
        var llm = effective.Choice.UsesLlm ? Own(await OpenLlmAsync(effective, archive, request, resume, tree, log, cancel).ConfigureAwait(false)) : null;
        var space = new ArchitectureSpace(tree, seeds, effective.ParameterBudget,
            maxSampleMutations: effective.Space?.RandomEdits?.Max ?? 2, minSampleMutations: effective.Space?.RandomEdits?.Min ?? 0)
        {
            DescribesSamples = effective.Space?.RandomEdits is not null,
            Searched = effective.Space?.SearchedParameters is { } searched ? new SearchedParameters(searched) : null,
            Operators = effective.Llm.WriteOperators ? OperatorArchive.OfRun(archive.Directory) : null,
        };
        var mutator = llm is null ? null : new LlmOutageGuard(new LlmSpecMutator(llm, space, GeneratedCodeCheck.Problem, OperatorWriting(request, effective, archive, run)), log, llm.RecordFailure);
        log($"evaluation {evaluator.Description}");
        if (effective.Choice.DrawsMutations)
        {
            var mix = effective.Choice.Mix(effective.Mutation);
            log($"mutation {mix}{(effective.Llm.Mode == "off" && effective.Mutation.Llm > 0 ? " (LLM off: its share is redistributed)" : string.Empty)}");
        }

        log($"knowledge {knowledge.Name} ({knowledge.Sha256}, {tree.Attributes.Count()} attributes, {tree.Attributes.Count(a => a.Attribute.Realisations.Count > 0)} realised)");
        // The search rules: a reproduction's from the record, a resumed run's from its own manifest (1 when it names none:
        // it was recorded before rules were versioned), a new run the current ones.
        var rules = request.SearchRules ?? (resume ? archive.SearchRules() : FairNadOptions.CurrentRules);
        if (!FairNadOptions.KnownRules.Contains(rules))
        {
            throw new ExperimentException($"{archive.ManifestPath}: search.rules {rules} is unknown to this build (known: {string.Join(", ", FairNadOptions.KnownRules)}); use the harness commit the run was recorded with");
        }

        var manifest = Manifest(effective, seed, run, experimentPath, request.RepositoryPath, splits, evaluator, llm, knowledge, request.LineageFormat ?? LineageLayout.FormatVersion, rules);
        if (effective.Llm.WriteOperators && manifest.Content["knowledge"] is JsonObject knowledgeNode)
        {
            // What the report needs to say which attributes the run's operators gave a first realisation.
            knowledgeNode[OperatorArchiveSummary.UnrealisedField] = OperatorArchiveSummary.Unrealised(tree);
        }

        Context = new SearchContext(effective, seed, archive, experimentPath, tree, lineage, evaluator, space, mutator, manifest, resume, log, llm, EvaluatorAt, rules);
    }

    /// <summary>
    /// The seed population: each reference width-scaled to the budget, or to each fraction of it the experiment's space
    /// section names (<see cref="SpaceOptions.SeedBudgetFractions"/>); without the section exactly as before.
    /// </summary>
    /// <exception cref="ExperimentException">a reference cannot be scaled to a fraction; the message names the field.</exception>
    public static IReadOnlyList<ArchitectureSpec> Seeds(Experiment e)
    {
        if (e.Space?.SeedBudgetFractions is not { } fractions)
        {
            return ArchitectureSpace.ScaledReferences(e.References, e.Input, e.ParameterBudget);
        }

        try
        {
            return ArchitectureSpace.ScaledReferences(e.References, e.Input, e.ParameterBudget, fractions);
        }
        catch (InvalidOperationException problem)
        {
            throw new ExperimentException($"space.seedBudgetFractions: {problem.Message}");
        }
    }

    /// <summary>
    /// The dataset's splits, its files checked (record counts, and checksums of official downloads). When the data
    /// directory lacks them and <see cref="SearchRequest.DownloadData"/> is set, a downloadable dataset is fetched first;
    /// a download that fails ends the run with the placement instructions, as a missing dataset does.
    /// </summary>
    /// <exception cref="DataUnavailableException">the data is not there (and was not or could not be downloaded); the message says what to place where.</exception>
    private static async Task<DatasetSplits> LoadDataAsync(SearchRequest request, string dataset, Action<string> log, CancellationToken cancel)
    {
        var directory = DatasetCatalog.DataDirectory(request.DataDirectory);
        try
        {
            return DatasetCatalog.Load(dataset, directory, requirements: request.DataRequirements);
        }
        catch (DataUnavailableException missing) when (request.DownloadData)
        {
            log($"data {dataset} is not in {directory}: downloading it");
            var http = request.DataHttp ?? new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
            try
            {
                foreach (var path in await DatasetCatalog.DownloadAsync(dataset, directory, http, cancel: cancel).ConfigureAwait(false))
                {
                    log($"data verified {path}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or DataFormatException or IOException && !cancel.IsCancellationRequested)
            {
                throw new DataUnavailableException($"{dataset}: the download failed ({e.Message}). {missing.Message}");
            }
            finally
            {
                if (request.DataHttp is null)
                {
                    http.Dispose();
                }
            }

            return DatasetCatalog.Load(dataset, directory, requirements: request.DataRequirements);
        }
    }

    /// <summary>
    /// The chain around the trainer: memory decided before training (recorded), then failures of the machine retried (never
    /// recorded), then the trainer: isolated workers (warm unless the experiment says otherwise), this process, or the request's stand-in.
    /// </summary>
    private ICandidateEvaluator Evaluator(SearchRequest request, Experiment effective, TrainingConfig config, RunArchive archive, DatasetSplits splits, Action<string> log, bool resume,
        string? workDirectory = null)
    {
        var budget = (long)effective.Evaluation.MemoryMb << 20;
        if (request.DataRequirements is not null && request.Evaluator is null && effective.Evaluation.Isolated)
        {
            throw new ExperimentException("test data requirements need in-process evaluation: isolated workers load the data to the official requirements");
        }

        var limits = new WorkerLimits(TimeSpan.FromSeconds(request.Overrides.Timeout ?? effective.Evaluation.TimeoutSeconds), SafetyCap(budget));
        var trainer = request.Evaluator?.Invoke(effective) ?? (effective.Executor is { IsSlurm: true } slurm
            ? SlurmEvaluator(request, effective, slurm, config, limits, archive, log, resume, workDirectory is null ? null : Path.GetFileName(workDirectory))
            : effective.Evaluation.Isolated
            ? new IsolatedEvaluator(request.Worker, effective.Dataset, request.DataDirectory, config, limits, effective.Evaluation.Jobs, workDirectory ?? archive.WorkersDirectory, archive.Directory,
                effective.Evaluation.WarmWorkers ? new WarmProcessExecutor(request.Worker, effective.Evaluation.Jobs) : null)
            : new InProcessEvaluator(effective.Dataset, splits, config));
        return new MemoryBudgetEvaluator(new RetryingEvaluator(trainer, InfrastructureRetries, log), effective.Dataset, config, budget,
            splits.Train.Pixels.LongLength + splits.Validation.Pixels.LongLength + splits.Test.Pixels.LongLength, Path.Combine(archive.Directory, OperatorSources.Folder));
    }

    /// <summary>
    /// With llm.writeOperators, the run's operator store and verification in a fresh worker (the evaluation's memory cap;
    /// a time limit of its own, generous against a forward and backward pass of two samples but short of a training run).
    /// Each operator an accepted answer writes gets its archive entry (the first introduction wins; see <see cref="OperatorArchive"/>).
    /// </summary>
    private static OperatorWriting? OperatorWriting(SearchRequest request, Experiment effective, RunArchive archive, string run)
    {
        if (!effective.Llm.WriteOperators)
        {
            return null;
        }

        var limits = new WorkerLimits(TimeSpan.FromSeconds(Math.Min(effective.Evaluation.TimeoutSeconds, VerificationTimeoutSeconds)), (long)effective.Evaluation.MemoryMb << 20);
        var verification = new OperatorVerification(request.Worker, Path.Combine(archive.WorkersDirectory, "operators"), limits);
        var folder = Path.Combine(archive.Directory, OperatorSources.Folder);
        var costs = OperatorCostTable.Load(folder);
        return new OperatorWriting(new OperatorStore(folder), (spec, sources) =>
        {
            var report = verification.Verify(spec, sources);
            if (!report.Passed)
            {
                return string.Join("\n", report.Problems);
            }

            // Measured once per operator and application, cached beside the source (operators/<hex>.costs.json).
            foreach (var (reference, cost) in report.Costs())
            {
                costs.Add(reference, cost);
            }

            costs.Write(folder);
            return null;
        }, costs, introduced =>
        {
            var operators = OperatorArchive.OfRun(archive.Directory);
            operators.Add(new OperatorEntry(introduced.Reference, OperatorArchive.ClassName(introduced.Source) ?? "(no public module class found)", CustomOperators.Contract,
                introduced.Attribute.Id, run, introduced.Candidate.Id, OperatorEntry.GeneratedLicence, operators.MeasuredCosts(introduced.Reference) ?? []));
        });
    }

    /// <summary>The longest a verification worker may run (compile, build, one forward and backward pass of two samples).</summary>
    public const double VerificationTimeoutSeconds = 120;

    /// <summary>
    /// Isolated workers as Slurm jobs, their files in the executor's shared job directory (a folder per run) or the run's
    /// workers/. The jobs the run submitted go to its job log; when the session ends, the manifest lists them.
    /// </summary>
    /// <param name="scope">
    /// A later rung's or a noise seed's evaluations (e.g. r1s0), or null for every candidate's first: each scope has a job
    /// log and a job folder of its own, since one candidate is then evaluated more than once and a resume re-attaches
    /// to each of its jobs by candidate.
    /// </param>
    private IsolatedEvaluator SlurmEvaluator(SearchRequest request, Experiment effective, ExecutorOptions slurm, TrainingConfig config, WorkerLimits limits, RunArchive archive,
        Action<string> log, bool resume, string? scope)
    {
        var jobLog = new Slurm.SlurmJobLog(scope is null ? archive.SlurmJobsPath : archive.SlurmJobsPathFor(scope));
        if (!resume && File.Exists(jobLog.Path))
        {
            throw new ExperimentException($"{jobLog.Path} exists, but run '{archive.Run}' is new; continue it with --resume {archive.Run}, or name a new run with --run");
        }

        var executor = new Slurm.SlurmExecutor(slurm, jobLog, archive.Run, log, request.Slurm);
        lock (_slurmLogs)
        {
            if (_slurmLogs.Count == 0)
            {
                // One record for the session, written when it ends: the jobs of every scope, first evaluations first.
                Own(new Disposer(() =>
                {
                    lock (_slurmLogs)
                    {
                        archive.RecordSlurmJobs([.. _slurmLogs.SelectMany(l => l.Jobs())]);
                    }
                }));
            }

            _slurmLogs.Add(jobLog);
        }

        // In a shared job directory, the run's folder is named after the run and its folder's path, so runs of the same name
        // from other results folders (another user's, a reproduction's) never share files, and a resume finds its own.
        var directory = slurm.JobDirectory is { } shared
            ? Path.Combine(shared, $"{archive.Run}-{Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(archive.Directory))))[..8]}")
            : archive.WorkersDirectory;
        directory = scope is null ? directory : Path.Combine(directory, scope);
        return new IsolatedEvaluator(request.Worker, effective.Dataset, request.DataDirectory, config, limits, slurm.MaxJobsInFlight ?? effective.Evaluation.Jobs, directory,
            archive.Directory, executor);
    }

    /// <summary>Runs an action when the session is disposed, in its place among what the session owns.</summary>
    private sealed class Disposer(Action action) : IDisposable
    {
        public void Dispose() => action();
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
            var archive = new RunArchive(Path.Combine(request.ResultsDirectory, resume), resume);
            if (!File.Exists(archive.ExperimentPath))
            {
                throw new ExperimentException($"no run '{resume}' to resume: {archive.ExperimentPath} does not exist");
            }

            if (request.Overrides.ChangesToARecordedRun() is { Count: > 0 } changes)
            {
                // Said rather than ignored: a user who adds --candidates to a resume expects a longer run, and would not get one.
                throw new ExperimentException(
                    $"--resume {resume} continues the run as recorded in {archive.ExperimentPath}; {string.Join(", ", changes)} would change it: leave {(changes.Count == 1 ? "it" : "them")} out, or start a new run with --run <name>");
            }

            var recorded = archive.ReadExperiment();
            if (request.Overrides.Profile is { } profile && profile != recorded.Profile)
            {
                throw new ExperimentException(
                    $"--profile {profile}: run '{resume}' was recorded {(recorded.Profile is null ? "without a profile" : $"with profile {recorded.Profile}")}; a resume continues the recorded experiment, so leave --profile out");
            }

            return (recorded, archive.RecordedExperimentPath(), [(recorded.Seeds[0], resume)]);
        }

        var path = request.ExperimentPath ?? throw new ExperimentException("no experiment: pass --experiment <file> or --dataset <name>");
        var experiment = ExperimentFile.Validated(request.Overrides.Apply(ExperimentFile.Load(path, request.Overrides.Profile)), $"{path} (with the options given)");
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

    /// <summary>
    /// The run's LLM: the experiment's mode and model, or on --resume the run's recorded ones unless --llm / --llm-model say
    /// otherwise (live, auto and replay give the same answers; turning the LLM on or off would change the search, so a
    /// resume refuses it). A model other than the one the transcripts were recorded with is refused unless allowed.
    /// </summary>
    private static async Task<LlmSession> OpenLlmAsync(Experiment experiment, RunArchive archive, SearchRequest request, bool resume, AttributeTree tree, Action<string> log,
        CancellationToken cancel)
    {
        var modeText = experiment.Llm.Mode;
        var model = experiment.Llm.Model;
        if (resume)
        {
            if (request.Overrides.LlmMode == "off")
            {
                throw new ExperimentException($"--llm off: run '{archive.Run}' was recorded with the LLM on ({experiment.Llm.Mode}); turning it off would change the search. Resume with --llm replay (no server needed), auto or live");
            }

            modeText = request.Overrides.LlmMode ?? modeText;
            model = request.Overrides.LlmModel ?? model;
        }

        var (mode, _) = LlmSettings.ParseChoice(modeText);
        var timeout = request.Overrides.LlmTimeout is { } given
            ? LlmSettings.ResolveTimeout(given, "--llm-timeout")
            : LlmSettings.ResolveTimeout(experiment.Llm.TimeoutSeconds, "llm.timeoutSeconds");
        var timeoutSource = request.Overrides.LlmTimeout is not null ? "--llm-timeout" : experiment.Llm.TimeoutSeconds is not null ? "llm.timeoutSeconds" : null;
        var stall = request.Overrides.LlmStallTimeout is { } givenStall
            ? LlmSettings.ResolveStallTimeout(givenStall, timeout, "--llm-stall-timeout", timeoutSource)
            : LlmSettings.ResolveStallTimeout(experiment.Llm.StallTimeoutSeconds, timeout, "llm.stallTimeoutSeconds", timeoutSource);
        if (!resume && experiment.Llm.Recorded is { } recorded && request.ExperimentPath is { } file)
        {
            ShippedTranscripts.Seed(file, recorded, model, archive.LlmDirectory, log);
        }

        // The scripted designer is a model no server has: it answers in-process, through the same client and handler.
        var scripted = new ModelInfo(LlmSettings.ScriptedModel, string.Empty, null, null, null).Answers(model);
        var settings = new LlmSettings(model, LlmSettings.ResolveServer(request.LlmServer), mode, archive.LlmDirectory, MaxAttempts: experiment.Llm.MaxAttempts,
            ContextLength: experiment.Llm.EffectiveContextLength, TimeoutSeconds: timeout, StallTimeoutSeconds: stall, AllowModelChange: request.LlmAllowModelChange,
            Transport: scripted ? () => new ScriptedDesigner(tree) : null);
        return await LlmSession.OpenAsync(settings, LlmSpecMutator.Stage, request.LlmRetry, log, cancel).ConfigureAwait(false);
    }

    private static RunManifestDocument Manifest(Experiment e, int seed, string run, string experimentPath, string repository, DatasetSplits splits,
        ICandidateEvaluator evaluator, LlmSession? session, KnowledgeSource knowledge, int lineageFormat, int searchRules)
    {
        string Hash(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        string ImageHash(ImageSet set) => Hash([.. set.Pixels, .. set.Labels.SelectMany(BitConverter.GetBytes)]);
        var effective = e.Choice.DrawsMutations ? e.Choice.Mix(e.Mutation) : null;
        return new RunManifestDocument(new JsonObject
        {
            ["schema"] = 1,
            ["run"] = run,
            ["seed"] = seed,
            ["strategy"] = e.Strategy,
            ["experiment"] = ExperimentEntry(e, experimentPath),
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
                ["kernels"] = TorchRuntime.EnsureLoaded().Kernels,
                ["libtorch"] = TorchRuntime.LibTorchPackage,
                ["threadsPerCandidate"] = e.Fidelity.Threads,
                ["device"] = e.Fidelity.Device,
            },
            ["evaluation"] = evaluator.Description,
            ["executor"] = ExecutorEntry(e),
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
                ["contextLength"] = e.Llm.EffectiveContextLength,
            },
            ["mutation"] = effective is null ? null : new JsonObject
            {
                ["configured"] = new JsonObject(e.Mutation.Probabilities.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
                ["effective"] = new JsonObject(effective.Probabilities.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Math.Round(p.Value, 6)))),
                ["disabled"] = new JsonArray([.. e.DisabledMutations.Select(d => (JsonNode)d)]),
                ["note"] = e.Llm.Mode == "off" && e.Mutation.Llm > 0 ? "the LLM is off, so LLM-driven mutation's share is redistributed over the other types" : null,
            },
            ["knowledge"] = knowledge.ManifestEntry(),
            // The layout of the run's lineage commits (LineageLayout.FormatVersion); a reproduction records in it. Absent: 1.
            ["lineage"] = new JsonObject { ["format"] = lineageFormat },
            // FairNAD's search rules (FairNadOptions.Rules); resuming and reproducing use them. Absent: 1.
            ["search"] = new JsonObject { ["rules"] = searchRules },
        });
    }

    /// <summary>
    /// The manifest's executor entry: local, or slurm with its settings and the job log (each job's id and end are added
    /// when a runner session ends, <see cref="RunArchive.RecordSlurmJobs"/>).
    /// </summary>
    private static JsonObject ExecutorEntry(Experiment e)
    {
        if (e.Executor is not { IsSlurm: true } x)
        {
            return new JsonObject { ["kind"] = ExecutorOptions.Local };
        }

        var entry = new JsonObject { ["kind"] = x.Kind };
        foreach (var (name, value) in new[] { ("partition", x.Partition), ("account", x.Account), ("qos", x.Qos), ("gpus", x.Gpus), ("jobDirectory", x.JobDirectory) })
        {
            if (value is not null)
            {
                entry[name] = value;
            }
        }

        if (x.SbatchOptions is { } options)
        {
            entry["sbatchOptions"] = new JsonArray([.. options.Select(o => (JsonNode)o)]);
        }

        entry["jobLog"] = RunArchive.SlurmJobsFile;
        return entry;
    }

    /// <summary>The manifest's experiment entry; "profile" only for a profile's run, so other manifests keep their form.</summary>
    private static JsonObject ExperimentEntry(Experiment e, string experimentPath)
    {
        var entry = new JsonObject { ["path"] = experimentPath, ["name"] = e.Name };
        if (e.Profile is { } profile)
        {
            entry["profile"] = profile;
        }

        entry["sha256"] = e.Hash();
        entry["copy"] = ExperimentCopy;
        return entry;
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
