namespace FairNad.Evaluation.Training;

/// <summary>
/// Why an evaluation failed, in two kinds. An outcome of the candidate is a fact about the architecture and the training
/// config: it comes out the same on every machine and every attempt, so it is recorded and told to the strategy. A
/// failure of the infrastructure depends on the machine (its load, its memory, another process, a bug of the harness):
/// it is retried and never recorded as the candidate's result, so machine load can never become a search outcome.
/// </summary>
public static class FailureCategories
{
    /// <summary>The spec does not plan into a network.</summary>
    public const string InvalidSpec = "invalid-spec";

    /// <summary>The spec's input shape is not the dataset's.</summary>
    public const string InputMismatch = "input-mismatch";

    /// <summary>The training loss became NaN, infinite or exploded.</summary>
    public const string Diverged = "diverged";

    /// <summary>The predicted peak memory of training exceeds the memory budget (decided before training, from the spec).</summary>
    public const string MemoryBudget = "memory-budget";

    /// <summary>The training config is unusable.</summary>
    public const string Error = "error";

    /// <summary>The device asked for is not there.</summary>
    public const string DeviceUnavailable = "device-unavailable";

    /// <summary>The worker died of a fault of its own (a signal such as SIGSEGV or SIGABRT, or an exit without a result) on every attempt.</summary>
    public const string Crash = "crash";

    /// <summary>
    /// Infrastructure: the worker ran past a wall-clock limit (the local backstop that stops a worker hung without using
    /// the CPU, or a Slurm job's time limit). Retried: a hang or a slow node need not happen again.
    /// </summary>
    public const string Timeout = "timeout";

    /// <summary>
    /// Infrastructure: the job used more CPU time than the limit (evaluation.timeoutSeconds, or --timeout) per libtorch
    /// thread. Not retried: CPU time hardly depends on load, so on the same machine a second attempt would spend the limit
    /// again and stop the same way; the run stops at once, and a resume with a larger --timeout continues it.
    /// </summary>
    public const string CpuTimeLimit = "cpu-time-limit";

    /// <summary>Infrastructure: the worker's resident memory passed the safety cap and it was stopped.</summary>
    public const string OutOfMemory = "out-of-memory";

    /// <summary>Infrastructure: the worker was killed from outside (SIGKILL, SIGTERM, SIGINT, SIGHUP: the kernel's OOM killer, a user).</summary>
    public const string Killed = "killed";

    /// <summary>Infrastructure: the worker could not be started, or wrote a result document that does not parse.</summary>
    public const string WorkerFailure = "worker-failure";

    /// <summary>Infrastructure: the harness's evaluator threw.</summary>
    public const string EvaluatorError = "evaluator-error";

    /// <summary>The run was cancelled while the candidate trained.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Outcomes of the candidate: recorded and told to the strategy.</summary>
    public static readonly IReadOnlyList<string> Outcomes = [.. FailureCategory.All.Where(c => !c.IsInfrastructure).Select(c => c.Name)];

    /// <summary>Failures of the machine or the harness: retried, never recorded as the candidate's result.</summary>
    public static readonly IReadOnlyList<string> Infrastructure = [.. FailureCategory.All.Where(c => c.IsInfrastructure).Select(c => c.Name)];

    public static bool IsInfrastructure(string? category) => FailureCategory.Of(category)?.IsInfrastructure == true;
}

/// <summary>Whose fault a failure is, which decides what a run does with it.</summary>
public enum FailureBlame
{
    /// <summary>A fact about the architecture and the training config: recorded and told to the strategy at once.</summary>
    Candidate,

    /// <summary>The worker itself died (a crash): retried, and recorded as the candidate's outcome only when every attempt crashed.</summary>
    Worker,

    /// <summary>The machine or the harness: retried, never recorded; if it persists the run stops (resumable).</summary>
    Machine,
}

/// <summary>
/// A failure category as a value: its name (the exact string result documents, journals and notes carry; see
/// <see cref="FailureCategories"/>) and whose fault it is. Every category is one of <see cref="All"/>.
/// </summary>
public sealed class FailureCategory
{
    public static readonly FailureCategory InvalidSpec = new(FailureCategories.InvalidSpec, FailureBlame.Candidate);
    public static readonly FailureCategory InputMismatch = new(FailureCategories.InputMismatch, FailureBlame.Candidate);
    public static readonly FailureCategory Diverged = new(FailureCategories.Diverged, FailureBlame.Candidate);
    public static readonly FailureCategory MemoryBudget = new(FailureCategories.MemoryBudget, FailureBlame.Candidate);
    public static readonly FailureCategory Error = new(FailureCategories.Error, FailureBlame.Candidate);
    public static readonly FailureCategory DeviceUnavailable = new(FailureCategories.DeviceUnavailable, FailureBlame.Candidate);
    public static readonly FailureCategory Crash = new(FailureCategories.Crash, FailureBlame.Worker);
    public static readonly FailureCategory Timeout = new(FailureCategories.Timeout, FailureBlame.Machine);
    public static readonly FailureCategory CpuTimeLimit = new(FailureCategories.CpuTimeLimit, FailureBlame.Machine, retried: false);
    public static readonly FailureCategory OutOfMemory = new(FailureCategories.OutOfMemory, FailureBlame.Machine);
    public static readonly FailureCategory Killed = new(FailureCategories.Killed, FailureBlame.Machine);
    public static readonly FailureCategory WorkerFailure = new(FailureCategories.WorkerFailure, FailureBlame.Machine);
    public static readonly FailureCategory EvaluatorError = new(FailureCategories.EvaluatorError, FailureBlame.Machine);
    public static readonly FailureCategory Cancelled = new(FailureCategories.Cancelled, FailureBlame.Machine);

    /// <summary>Every category, outcomes of the candidate first.</summary>
    public static readonly IReadOnlyList<FailureCategory> All =
        [InvalidSpec, InputMismatch, Diverged, MemoryBudget, Error, DeviceUnavailable, Crash, Timeout, CpuTimeLimit, OutOfMemory, Killed, WorkerFailure, EvaluatorError, Cancelled];

    private FailureCategory(string name, FailureBlame blame, bool retried = true) => (Name, Blame, IsRetried) = (name, blame, blame != FailureBlame.Candidate && retried);

    /// <summary>The category as files carry it (invalid-spec, diverged, timeout, ...).</summary>
    public string Name { get; }

    public FailureBlame Blame { get; }

    /// <summary>A failure of the machine or the harness: retried, never recorded as the candidate's result.</summary>
    public bool IsInfrastructure => Blame == FailureBlame.Machine;

    /// <summary>
    /// Evaluated again before anything is recorded: failures of the machine that need not repeat, and crashes of the
    /// worker. A failure of the machine that is not retried (<see cref="CpuTimeLimit"/>) stops the run at once.
    /// </summary>
    public bool IsRetried { get; }

    /// <summary>The category named <paramref name="name"/>; null for null or a name that is no category.</summary>
    public static FailureCategory? Of(string? name) => name is null ? null : All.FirstOrDefault(c => c.Name == name);

    public override string ToString() => Name;
}
