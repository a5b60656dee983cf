using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Data;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments;

/// <summary>
/// Trains and measures one candidate and returns the result; it writes nothing of the run (the run's recorder writes the
/// result document). A candidate's failure (crash, timeout, divergence, invalid spec) comes back as a failed
/// <see cref="EvaluationResult"/>, never as an exception.
/// </summary>
public interface ICandidateEvaluator : IDisposable
{
    /// <summary>What evaluates, in words, for the manifest and the log.</summary>
    string Description { get; }

    /// <summary>How many candidates may be evaluated at once.</summary>
    int Parallelism { get; }

    Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default);
}

/// <summary>
/// Where a worker job runs: a fresh local process (<see cref="LocalProcessExecutor"/>), a warm one (<see cref="WarmProcessExecutor"/>)
/// or a job of a Slurm cluster (<see cref="Slurm.SlurmExecutor"/>).
/// A failure of the worker (it could not start, was killed, ran too long) comes back as a failed result with its category.
/// </summary>
public interface IWorkerExecutor
{
    Task<EvaluationResult> RunAsync(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default);
}

/// <summary>Each job in a child process of this one, started fresh (<see cref="WorkerPool.Run"/>).</summary>
public sealed class LocalProcessExecutor : IWorkerExecutor
{
    public static readonly LocalProcessExecutor Instance = new();

    public Task<EvaluationResult> RunAsync(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default) =>
        Task.Run(() => WorkerPool.Run(job, limits, cancel), cancel);
}

/// <summary>
/// Jobs on warm child processes of this one (`fairnad worker`, <see cref="WarmWorkerPool"/>): at most
/// <paramref name="workers"/> alive, each replaced by a fresh one after any failure of its own and when it holds too much
/// memory, so a retry always runs on a fresh worker.
/// </summary>
public sealed class WarmProcessExecutor(WorkerCommand command, int workers) : IWorkerExecutor, IDisposable
{
    private readonly WarmWorkerPool _pool = new(command.FileName, command.ServeArguments, workers);

    /// <summary>Worker processes started so far.</summary>
    public int WorkersStarted => _pool.WorkersStarted;

    public Task<EvaluationResult> RunAsync(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default) => _pool.RunAsync(job, limits, cancel);

    public void Dispose() => _pool.Dispose();
}

/// <summary>How to start `fairnad evaluate` in a child process: the program and the arguments before the command.</summary>
public sealed record WorkerCommand(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>This process's own program: the apphost, or `dotnet &lt;assembly&gt;` when it runs under the dotnet host.</summary>
    public static WorkerCommand ForAssembly(string assemblyPath)
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? new(process, [assemblyPath]) : new(process, []);
    }

    /// <summary>The arguments that start a warm worker (`fairnad worker`).</summary>
    public IReadOnlyList<string> ServeArguments => [.. Prefix, "worker"];

    /// <summary>
    /// The job that trains <paramref name="spec"/> in a worker (cold: its command line; warm: its request line): the spec and the full training config go to files beside
    /// the result, so the worker trains exactly this config (no knob is lost on a command line).
    /// </summary>
    public WorkerJob EvaluateJob(ArchitectureSpec spec, string dataset, string? dataDirectory, TrainingConfig config, string resultPath, string? runDirectory = null)
    {
        var result = Path.GetFullPath(resultPath);
        var directory = Path.GetDirectoryName(result)!;
        Directory.CreateDirectory(directory);
        var stem = Path.GetFileNameWithoutExtension(result);
        var specPath = Path.Combine(directory, $"{stem}.spec.json");
        var configPath = Path.Combine(directory, $"{stem}.config.json");
        WriteIfChanged(specPath, SpecJson.Write(spec));
        WriteIfChanged(configPath, config.ToJson());
        if (OperatorSources.References(spec).Count > 0)
        {
            // LLM-written operators go beside the spec, where the worker looks for them; their hashes are checked on reading.
            var run = runDirectory ?? throw new InvalidOperationException($"candidate {spec.Id}: it uses LLM-written operators, which live in a run's {OperatorSources.Folder}/ folder; no run directory was given");
            var sources = new OperatorStore(Path.Combine(run, OperatorSources.Folder)).For(spec);
            var beside = new OperatorStore(Path.Combine(directory, OperatorSources.Folder));
            foreach (var source in sources.Values)
            {
                beside.Put(source);
            }
        }
        var arguments = Prefix.Concat(["evaluate", specPath, "--dataset", dataset, "--config", configPath, "--quiet", "--out", result]).ToList();
        if (dataDirectory is not null)
        {
            arguments.AddRange(["--data-dir", Path.GetFullPath(dataDirectory)]);
        }

        var request = new WorkerRequest(specPath, dataset, dataDirectory is null ? null : Path.GetFullPath(dataDirectory), configPath, result);
        return new WorkerJob(spec.Id, dataset, config, FileName, arguments, result, runDirectory, Request: request);
    }

    /// <summary>
    /// Leaves a file that already says <paramref name="text"/> alone: a Slurm job re-attached to after a resume may be
    /// about to read it, and must never see it half rewritten.
    /// </summary>
    private static void WriteIfChanged(string path, string text)
    {
        if (!File.Exists(path) || File.ReadAllText(path) != text)
        {
            File.WriteAllText(path, text);
        }
    }
}

/// <summary>
/// Each candidate in its own worker process, with a wall-clock timeout and a resident-memory cap. The files a worker
/// reads and writes (spec, config, its result document) are this evaluator's business: they go to
/// <paramref name="workDirectory"/>, and the result comes back as a value. Workers of a run carry
/// <paramref name="runDirectory"/> in their environment, so a resumed run can end any left behind.
/// </summary>
/// <param name="executor">Where the worker runs; default a local child process started fresh per candidate. The evaluator disposes it when it is disposable.</param>
public sealed class IsolatedEvaluator(WorkerCommand command, string dataset, string? dataDirectory, TrainingConfig config, WorkerLimits limits, int jobs,
    string workDirectory, string? runDirectory = null, IWorkerExecutor? executor = null) : ICandidateEvaluator
{
    private readonly IWorkerExecutor _executor = executor ?? LocalProcessExecutor.Instance;

    public string Description => _executor is Slurm.SlurmExecutor slurm
        ? $"at most {jobs} {slurm.Description} x {config.Threads} thread(s), time limit {Slurm.SlurmJobScript.TimeMinutes(slurm.Options, limits)} min, memory {Slurm.SlurmJobScript.MemoryMb(slurm.Options, limits)} MiB"
        : $"{jobs} isolated {(_executor is WarmProcessExecutor ? "warm" : "fresh-per-candidate")} worker(s) x {config.Threads} thread(s), timeout {limits.Timeout.TotalSeconds:0} s, memory cap {limits.MemoryBytes >> 20} MiB" +
        (_executor is WarmProcessExecutor ? $", recycled above {WarmWorkerPool.RecycleBytes(limits) >> 20} MiB resident" : string.Empty);

    public int Parallelism => jobs;

    public Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default) =>
        _executor.RunAsync(command.EvaluateJob(spec, dataset, dataDirectory, config, Path.Combine(workDirectory, $"{spec.Id}.json"), runDirectory), limits, cancel);

    public void Dispose() => (_executor as IDisposable)?.Dispose();
}

/// <summary>
/// Candidates trained in this process, one at a time (libtorch's thread count and seed are process-wide). Faster to
/// start than workers, but a native crash ends the process: use it for tests and tiny fidelities.
/// </summary>
/// <param name="splits">The dataset, loaded once by the session.</param>
public sealed class InProcessEvaluator(string dataset, DatasetSplits splits, TrainingConfig config) : ICandidateEvaluator
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private TensorData? _data;

    public string Description => $"in process, {config.Threads} thread(s)";

    public int Parallelism => 1;

    public async Task<EvaluationResult> EvaluateAsync(ArchitectureSpec spec, CancellationToken cancel = default)
    {
        await _one.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            _data ??= TensorData.Prepare(splits, config);
            try
            {
                return Trainer.Evaluate(spec, _data, config, cancel: cancel);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // What a worker process would die of: a crash of this candidate's training, not of the data or the harness.
                return EvaluationResult.Failure(spec.Id, dataset, config, FailureCategories.Crash, $"training threw {e.GetType().Name}: {e.Message}");
            }
        }
        finally
        {
            _one.Release();
        }
    }

    public void Dispose()
    {
        _data?.Dispose();
        _one.Dispose();
    }
}

/// <summary>The check an LLM-written architecture must pass besides validation: its generated code compiles with Roslyn.</summary>
public static class GeneratedCodeCheck
{
    /// <summary>Null when the candidate's generated TorchSharp code compiles; else the compiler's diagnostics, for repair.</summary>
    public static string? Problem(ArchitectureSpec spec)
    {
        try
        {
            var plan = NetworkPlanner.Plan(spec, "LLM answer");
            var (image, diagnostics) = CandidateCompiler.Emit($"Check{plan.CandidateId[..16]}", [new SourceFile("Network.cs", TorchSharpCodeWriter.Write(plan))]);
            return image is not null ? null : "the generated code does not compile: " + string.Join("; ", diagnostics.Where(d => d.Severity == "error").Take(5));
        }
        catch (InvalidArchitectureException e)
        {
            return e.Message;
        }
    }
}
