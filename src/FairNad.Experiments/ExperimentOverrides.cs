using FairNad.Llm;

namespace FairNad.Experiments;

/// <summary>Values given on the command line or as build parameters; each replaces the file's field.</summary>
/// <remarks>
/// On the command line each is set through its entry of <see cref="ExperimentOptions.All"/>. <see cref="LlmTimeout"/>
/// (--llm-timeout) is an execution setting, not a change of the experiment: it is not applied to the recorded experiment,
/// and it holds on --resume too, where it outranks the experiment's llm.timeoutSeconds.
/// <see cref="LlmStallTimeout"/> (--llm-stall-timeout) is one too, and outranks the experiment's llm.stallTimeoutSeconds the same way.
/// <see cref="Timeout"/> (--timeout) is one too: a candidate over the limit stops the run and is never recorded, so the
/// limit cannot change a result; it holds on --resume and outranks the experiment's evaluation.timeoutSeconds, so a run
/// held up by a candidate that needs more CPU time on this machine can continue.
/// <see cref="Profile"/> (--profile) is applied when the file is read (<see cref="ExperimentFile.Load"/>), before the
/// other values, so each of them still outranks the profile's.
/// </remarks>
public sealed record ExperimentOverrides(
    int? Seed = null, int? Candidates = null, double? Minutes = null, string? Strategy = null, string? LlmMode = null, string? LlmModel = null,
    int? Jobs = null, bool? Isolated = null, long? ParameterBudget = null, int? Epochs = null, string? Device = null, double? LlmTimeout = null,
    int? LlmContextLength = null, double? LlmStallTimeout = null, string? Profile = null, string? Executor = null, string? SlurmPartition = null,
    string? SlurmAccount = null, string? SlurmQos = null, string? SlurmGpus = null, int? SlurmMaxJobs = null, string? SlurmJobDirectory = null,
    double? Timeout = null)
{
    /// <summary>
    /// The options given that would change a recorded experiment, which a resume cannot honour (it continues the run as
    /// recorded): everything but the LLM's mode, model and timeouts, which a resume applies, and the profile, checked apart.
    /// </summary>
    public IReadOnlyList<string> ChangesToARecordedRun() =>
    [
        .. new (string Flag, bool Given)[]
        {
            ("--seed", Seed is not null), ("--candidates", Candidates is not null), ("--minutes", Minutes is not null), ("--strategy", Strategy is not null),
            ("--jobs", Jobs is not null), ("--in-process", Isolated is not null), ("--params", ParameterBudget is not null), ("--epochs", Epochs is not null),
            ("--device", Device is not null), ("--llm-num-ctx", LlmContextLength is not null),

            // A resume keeps the recorded executor: it re-attaches to the jobs that executor submitted.
            ("--executor", Executor is not null), ("--slurm-partition", SlurmPartition is not null), ("--slurm-account", SlurmAccount is not null),
            ("--slurm-qos", SlurmQos is not null), ("--slurm-gpus", SlurmGpus is not null), ("--slurm-max-jobs", SlurmMaxJobs is not null),
            ("--slurm-job-dir", SlurmJobDirectory is not null),
        }.Where(o => o.Given).Select(o => o.Flag),
    ];

    /// <exception cref="ExperimentException">--epochs for an experiment with a ladder (its rungs set the epochs; the option would change nothing).</exception>
    public Experiment Apply(Experiment e) => Epochs is not null && e.Ladder is not null
        ? throw new ExperimentException("--epochs: the experiment has a fidelity ladder, whose rungs set each rung's epochs; change ladder.rungs in a copy of the experiment file instead")
        : e with
    {
        Seeds = Seed is { } seed ? [seed] : e.Seeds,
        Candidates = Candidates ?? e.Candidates,
        Minutes = Minutes ?? e.Minutes,
        Strategy = Strategy ?? e.Strategy,
        Llm = e.Llm with { Mode = LlmMode ?? e.Llm.Mode, Model = LlmModel ?? e.Llm.Model, ContextLength = LlmContextLength ?? e.Llm.ContextLength },
        Evaluation = e.Evaluation with { Jobs = Jobs ?? e.Evaluation.Jobs, Isolated = Isolated ?? e.Evaluation.Isolated },
        ParameterBudget = ParameterBudget ?? e.ParameterBudget,
        Fidelity = e.Fidelity with { Epochs = Epochs ?? e.Fidelity.Epochs, Device = Device ?? e.Fidelity.Device },
        Executor = ApplyExecutor(e.Executor),
    };

    /// <summary>
    /// The executor section with the options given: --executor local drops the section (local has no settings), --executor
    /// slurm keeps the file's Slurm settings; a --slurm-* option without kind slurm is left for validation to name.
    /// </summary>
    private ExecutorOptions? ApplyExecutor(ExecutorOptions? file)
    {
        var slurm = (SlurmPartition ?? SlurmAccount ?? SlurmQos ?? SlurmGpus ?? SlurmJobDirectory) is not null || SlurmMaxJobs is not null;
        if (Executor == ExecutorOptions.Local)
        {
            file = null;
        }

        if (!slurm && Executor is null or ExecutorOptions.Local)
        {
            return file;
        }

        var section = file ?? new ExecutorOptions(Executor ?? ExecutorOptions.Local);
        return section with
        {
            Kind = Executor ?? section.Kind,
            Partition = SlurmPartition ?? section.Partition,
            Account = SlurmAccount ?? section.Account,
            Qos = SlurmQos ?? section.Qos,
            Gpus = SlurmGpus ?? section.Gpus,
            MaxJobsInFlight = SlurmMaxJobs ?? section.MaxJobsInFlight,
            JobDirectory = SlurmJobDirectory is { } directory ? Path.GetFullPath(directory) : section.JobDirectory,
        };
    }
}

/// <summary>
/// The options that override an experiment, described once: flag, one-sentence description, the type the command line
/// parses the value to, and which <see cref="ExperimentOverrides"/> field the value sets. `fairnad search` builds its
/// options from this table; the build's Search parameters forward to those options, and a test holds their
/// descriptions to these (the build cannot reference this assembly, which brings libtorch).
/// </summary>
public static class ExperimentOptions
{    /// <summary>The largest --timeout: a week of CPU time, far beyond any candidate the harness is meant for.</summary>
    public const double MaxTimeoutSeconds = 7 * 24 * 3600;

    /// <exception cref="ArgumentException">a --timeout that is not a positive number of seconds up to a week (reported as --llm-timeout's is).</exception>
    private static double CheckTimeout(double seconds) => double.IsFinite(seconds) && seconds > 0 && seconds <= MaxTimeoutSeconds
        ? seconds
        : throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--timeout must be a number of seconds above 0 and at most {MaxTimeoutSeconds:F0} (a week), not {seconds:G}"));


    /// <summary>The values of --executor.</summary>
    public static readonly string[] ExecutorKinds = [.. ExecutorOptions.Kinds];

    /// <summary>Every override option, in the order `fairnad search --help` lists them.</summary>
    public static IReadOnlyList<ExperimentOption> All { get; } =
    [
        new ExperimentOption<string?>("--profile", "Fidelity preset of the experiment file to run (an entry of its \"profiles\"), e.g. ci: the same search at smoke fidelity on the CPU, as run <name>-<profile>-<strategy>-s<seed>.",
            (o, v) => o with { Profile = v }),
        new ExperimentOption<int?>("--seed", "Run only this seed instead of the experiment's seeds.",
            (o, v) => o with { Seed = v }),
        new ExperimentOption<int?>("--candidates", "Candidate budget of the search (evaluated candidates; duplicates are not counted).",
            (o, v) => o with { Candidates = v }),
        new ExperimentOption<double?>("--minutes", "Wall-clock budget of the search in minutes (it stops between batches; the run then depends on machine speed).",
            (o, v) => o with { Minutes = v }),
        new ExperimentOption<string?>("--strategy", $"Search strategy: {string.Join(", ", Experiment.Strategies.SkipLast(1))} or {Experiment.Strategies[^1]}.",
            (o, v) => o with { Strategy = v }),
        new ExperimentOption<string?>("--llm", "LLM mode: off, auto (replay recorded exchanges, ask Ollama for new ones), live or replay; or ollama:<model>; or scripted (FairNad's rule-based stand-in designer, in-process, no model needed: auto with model " + LlmSettings.ScriptedModel + "); default the experiment's.",
            (o, v) =>
            {
                var choice = LlmSettings.ParseChoice(v!);
                return o with { LlmMode = choice.Mode.ToString().ToLowerInvariant(), LlmModel = choice.Model };
            }),
        new ExperimentOption<string?>("--llm-model", "Ollama model for any LLM mode, e.g. qwen2.5:7b-instruct (same as --llm ollama:<model> but combinable with live, replay and auto); default the experiment's.",
            (o, v) => o with { LlmModel = LlmSettings.ResolveModel(o.LlmModel is null ? null : "ollama:" + o.LlmModel, v) }),
        new ExperimentOption<int?>("--llm-num-ctx", $"Context window in tokens sent to Ollama as num_ctx (default: the experiment's llm.contextLength, else {LlmSettings.DefaultContextLength}); it can change the answers, so it is part of the experiment.",
            (o, v) => o with { LlmContextLength = v is { } n ? LlmSettings.CheckContextLength(n, "--llm-num-ctx") : null }),
        new ExperimentOption<double?>("--llm-timeout", $"Seconds one LLM request may take before it counts as failed and is retried (default: the experiment's llm.timeoutSeconds, else {LlmSettings.TimeoutVariable}, else {LlmSettings.DefaultTimeoutSeconds:G}).",
            (o, v) => o with { LlmTimeout = v is { } t ? LlmSettings.CheckTimeout(t, "--llm-timeout") : null }),
        new ExperimentOption<double?>("--llm-stall-timeout", $"Seconds an LLM answer may go without new data (the first chunk included, so model load and prompt reading) before it counts as stalled and is retried; at most the request timeout (default: the experiment's llm.stallTimeoutSeconds, else {LlmSettings.StallTimeoutVariable}, else {LlmSettings.DefaultStallTimeoutSeconds:G}).",
            (o, v) => o with { LlmStallTimeout = v is { } t ? LlmSettings.CheckTimeout(t, "--llm-stall-timeout") : null }),
        new ExperimentOption<int?>("--jobs", "Candidates trained at once, each in its own worker process.",
            (o, v) => o with { Jobs = v }),
        new ExperimentOption<double?>("--timeout", "Seconds of CPU time (per libtorch thread) one candidate's training may use before its worker is stopped and the run stops, resumable (default: the experiment's evaluation.timeoutSeconds); it never changes a result, so it may be given on --resume.",
            (o, v) => o with { Timeout = v is { } t ? CheckTimeout(t) : null }),
        new ExperimentOption<bool>("--in-process", "Train in this process, one at a time (no worker isolation; for tests and tiny fidelities).",
            (o, v) => v ? o with { Isolated = false } : o),
        new ExperimentOption<long?>("--params", "Parameter budget of every candidate.",
            (o, v) => o with { ParameterBudget = v }),
        new ExperimentOption<int?>("--epochs", "Training epochs per candidate.",
            (o, v) => o with { Epochs = v }),
        new ExperimentOption<string?>("--executor", "Where candidates train: local (worker processes on this machine) or slurm (a Slurm job per candidate, via sbatch); default the experiment's executor.kind, else local.",
            (o, v) => o with { Executor = v }),
        new ExperimentOption<string?>("--slurm-partition", "Slurm partition the jobs go to (sbatch --partition); default the experiment's executor.partition, else the cluster's default.",
            (o, v) => o with { SlurmPartition = v }),
        new ExperimentOption<string?>("--slurm-account", "Slurm account the jobs are charged to (sbatch --account); default the experiment's executor.account.",
            (o, v) => o with { SlurmAccount = v }),
        new ExperimentOption<string?>("--slurm-qos", "Slurm quality of service of the jobs (sbatch --qos); default the experiment's executor.qos.",
            (o, v) => o with { SlurmQos = v }),
        new ExperimentOption<string?>("--slurm-gpus", "GPUs per Slurm job (sbatch --gpus), e.g. 1 or a100:1; default the experiment's executor.gpus, else none.",
            (o, v) => o with { SlurmGpus = v }),
        new ExperimentOption<int?>("--slurm-max-jobs", "Slurm jobs queued or running at once; default the experiment's executor.maxJobsInFlight, else evaluation.jobs.",
            (o, v) => o with { SlurmMaxJobs = v }),
        new ExperimentOption<string?>("--slurm-job-dir", "Shared directory (seen by every node) for the Slurm jobs' scripts, inputs and results, a folder per run; default the run folder's workers/.",
            (o, v) => o with { SlurmJobDirectory = v }),
        new ExperimentOption<string?>("--device", "Device candidates train on: cpu, cuda or cuda:<index> (a GPU needs the Cuda libtorch backend, built with --torch-backend Cuda); default the experiment's.",
            (o, v) => o with { Device = v }),
    ];
}

/// <summary>One option of <see cref="ExperimentOptions.All"/>, its value type erased so the table is one list.</summary>
public abstract class ExperimentOption(string flag, string description)
{
    /// <summary>The option as typed on the command line, e.g. <c>--seed</c>.</summary>
    public string Flag { get; } = flag;

    /// <summary>One sentence, shown by <c>fairnad search --help</c> (and, held equal by a test, by <c>./build.sh --help</c>).</summary>
    public string Description { get; } = description;

    /// <summary>Hands the option, its value type restored, to <paramref name="visitor"/>: how a command line makes a typed option of each entry.</summary>
    public abstract TResult Accept<TResult>(IExperimentOptionVisitor<TResult> visitor);
}

/// <summary>An override option whose value the command line parses to <typeparamref name="T"/>.</summary>
public sealed class ExperimentOption<T>(string flag, string description, Func<ExperimentOverrides, T, ExperimentOverrides> set)
    : ExperimentOption(flag, description)
{
    /// <summary>The overrides with this option's value set; a null value (the option not given) leaves them as they are.</summary>
    public ExperimentOverrides Set(ExperimentOverrides overrides, T value) => value is null ? overrides : set(overrides, value);

    public override TResult Accept<TResult>(IExperimentOptionVisitor<TResult> visitor) => visitor.Visit(this);
}

/// <summary>Receives an <see cref="ExperimentOption"/> with its value type.</summary>
public interface IExperimentOptionVisitor<out TResult>
{
    TResult Visit<T>(ExperimentOption<T> option);
}
