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

    /// <summary>Infrastructure: the worker ran past the wall-clock timeout.</summary>
    public const string Timeout = "timeout";

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
    public static readonly IReadOnlyList<string> Outcomes = [InvalidSpec, InputMismatch, Diverged, MemoryBudget, Error, DeviceUnavailable, Crash];

    /// <summary>Failures of the machine or the harness: retried, never recorded as the candidate's result.</summary>
    public static readonly IReadOnlyList<string> Infrastructure = [Timeout, OutOfMemory, Killed, WorkerFailure, EvaluatorError, Cancelled];

    public static bool IsInfrastructure(string? category) => category is not null && Infrastructure.Contains(category);
}
