using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation.Training;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>An experiment file that cannot be used; the message names the file, the field and the reason.</summary>
public sealed class ExperimentException(string message) : Exception(message);

/// <summary>How each candidate is trained: the fidelity knobs of <see cref="TrainingConfig"/>.</summary>
public sealed record Fidelity(int Epochs, int BatchSize, double LearningRate, int? TrainSubset, int? ValidationSubset, bool Augment, int LatencyRepeats, int Threads, string Device = "cpu")
{
    public TrainingConfig ToConfig(long seed) => new(Epochs: Epochs, BatchSize: BatchSize, LearningRate: LearningRate, TrainSubset: TrainSubset,
        ValidationSubset: ValidationSubset, Augment: Augment, Threads: Threads, Seed: seed, LatencyRepeats: LatencyRepeats, Device: Device);
}

/// <summary>One rung of a fidelity ladder: the epochs and training images a candidate gets there (the rest of <see cref="Fidelity"/> is the experiment's).</summary>
/// <param name="TrainSubset">Training images at this rung; null for all of them.</param>
public sealed record Rung(int Epochs, int? TrainSubset);

/// <summary>
/// Multi-fidelity evaluation: every candidate is trained at rung 0 first; the top <see cref="Promote"/> fraction of the
/// results at each rung so far is trained again at the next rung (deterministic asynchronous successive halving,
/// <see cref="FairNad.Search.SuccessiveHalving"/>). The experiment's own fidelity supplies everything a rung does not set.
/// </summary>
public sealed record Ladder(IReadOnlyList<Rung> Rungs, double Promote)
{
    /// <summary>The training of rung <paramref name="rung"/>: <paramref name="fidelity"/> with the rung's epochs and training images.</summary>
    public Fidelity At(Fidelity fidelity, int rung) => fidelity with { Epochs = Rungs[rung].Epochs, TrainSubset = Rungs[rung].TrainSubset };

    /// <summary>The first problem with the ladder, or null.</summary>
    public string? Problem(Fidelity fidelity)
    {
        if (Rungs.Count < 2)
        {
            return "rungs: give at least two rungs (one rung is the plain fidelity: leave the ladder out)";
        }

        if (!(Promote > 0 && Promote < 1))
        {
            return "promote: the promoted fraction must be above 0 and below 1 (e.g. 0.34 for the top third)";
        }

        for (var i = 0; i < Rungs.Count; i++)
        {
            if (At(fidelity, i).ToConfig(0).Problem() is { } problem)
            {
                return $"rungs[{i}]: {problem}";
            }

            if (i > 0 && !(Rungs[i].Epochs >= Rungs[i - 1].Epochs && Images(Rungs[i]) >= Images(Rungs[i - 1]) && Rungs[i] != Rungs[i - 1]))
            {
                return $"rungs[{i}]: each rung must train at least as many epochs on at least as many images as the rung before, and more of one";
            }
        }

        return null;
    }

    private static long Images(Rung r) => r.TrainSubset ?? long.MaxValue;
}

/// <summary>
/// Measuring the seed-to-seed noise: the first <see cref="Architectures"/> candidates of the run (the seed architectures)
/// are trained with <see cref="Seeds"/> extra training seeds at every rung. The pooled spread at a rung sets the threshold
/// a mutation's accuracy gain must exceed to count as an improvement in the feedback loop (spread × √2).
/// </summary>
public sealed record NoiseOptions(int Architectures, int Seeds);

/// <summary>
/// LLM use of a run: mode (off, auto, live, replay), model, answers per mutation (first try plus repairs), and the
/// seconds one request may take (unset: FAIRNAD_LLM_TIMEOUT, else <see cref="FairNad.Llm.LlmSettings.DefaultTimeoutSeconds"/>),
/// and the seconds an answer may go without new data (unset: FAIRNAD_LLM_STALL_TIMEOUT, else
/// <see cref="FairNad.Llm.LlmSettings.DefaultStallTimeoutSeconds"/>). Both are execution settings, left out of the lineage.
/// </summary>
/// <param name="ContextLength">num_ctx sent with every request (unset: <see cref="FairNad.Llm.LlmSettings.DefaultContextLength"/>).</param>
/// <param name="Recorded">
/// Exchanges shipped with the experiment: a folder, relative to the experiment file, recorded by an earlier run (its
/// llm/ folder); a new run with the same model starts with them, so it replays them instead of asking again. Like the
/// mode, an execution setting (the recorded answers are the model's own), left out of the lineage.
/// </param>
/// <param name="WriteOperators">
/// The LLM may answer a mutation with operators it writes in C# (the <c>custom</c> operator; see docs/architectures.md):
/// compiled through the sandbox and verified in a worker, stored in the run's operators/ folder and committed with the
/// candidate. It changes the prompt, so it is part of the lineage (written only when true, so older files keep their hash).
/// </param>
public sealed record LlmOptions(string Mode, string Model, int MaxAttempts, double? TimeoutSeconds = null, int? ContextLength = null, double? StallTimeoutSeconds = null,
    string? Recorded = null, bool WriteOperators = false)
{
    /// <summary>The num_ctx in force.</summary>
    public int EffectiveContextLength => ContextLength ?? FairNad.Llm.LlmSettings.DefaultContextLength;
}

/// <summary>Where candidates are trained: worker processes (isolated) or this process, how many at once, and the limits of one.</summary>
/// <param name="WarmWorkers">
/// Isolated workers stay alive from candidate to candidate (libtorch and the data loaded once per worker; see
/// <see cref="FairNad.Evaluation.Isolation.WarmWorkerPool"/>); false starts a fresh process per candidate. An execution
/// setting: it cannot change a result, so it is left out of the lineage, and written to the file only when false.
/// </param>
public sealed record EvaluationOptions(int Jobs, bool Isolated, double TimeoutSeconds, int MemoryMb, bool WarmWorkers = true);

/// <summary>
/// Where isolated workers run (the experiment file's "executor" section): on this machine (kind local, the default, and
/// what an absent section means) or as jobs of a Slurm cluster (kind slurm), each the same `fairnad evaluate` command a
/// fresh local worker runs. An execution setting: it cannot change a result, so it is left out of the lineage.
/// Every field but <see cref="Kind"/> is for kind slurm and optional.
/// </summary>
/// <param name="Partition">sbatch --partition; unset: the cluster's default partition.</param>
/// <param name="Account">sbatch --account.</param>
/// <param name="Qos">sbatch --qos.</param>
/// <param name="TimeMinutes">sbatch --time in minutes; unset: evaluation.timeoutSeconds rounded up to whole minutes.</param>
/// <param name="MemoryMb">sbatch --mem in MiB; unset: the worker's memory safety cap (twice evaluation.memoryMb).</param>
/// <param name="CpusPerTask">sbatch --cpus-per-task; unset: fidelity.threads.</param>
/// <param name="Gpus">sbatch --gpus, e.g. 1 or a100:1; unset: none.</param>
/// <param name="SbatchOptions">Further sbatch options, each one argument as sbatch takes it, e.g. --constraint=avx2.</param>
/// <param name="MaxJobsInFlight">Jobs queued or running at once; unset: evaluation.jobs. Batches are fixed by the experiment, so more than batch cannot help.</param>
/// <param name="JobDirectory">A directory every node sees (shared filesystem) for job scripts, specs, configs and result documents, in a folder per run; unset: the run folder's workers/.</param>
/// <param name="PollSeconds">Seconds between looks at the queue (squeue); unset: <see cref="DefaultPollSeconds"/>.</param>
public sealed record ExecutorOptions(string Kind, string? Partition = null, string? Account = null, string? Qos = null, int? TimeMinutes = null, int? MemoryMb = null,
    int? CpusPerTask = null, string? Gpus = null, IReadOnlyList<string>? SbatchOptions = null, int? MaxJobsInFlight = null, string? JobDirectory = null, double? PollSeconds = null)
{
    public const string Local = "local";

    public const string Slurm = "slurm";

    public const double DefaultPollSeconds = 2;

    public static readonly IReadOnlyList<string> Kinds = [Local, Slurm];

    /// <summary>The sbatch options FairNad sets itself; sbatchOptions must not give them again.</summary>
    public static readonly IReadOnlyList<string> ReservedSbatchOptions =
        ["--parsable", "--output", "--error", "--job-name", "--chdir", "--wrap", "--array", "--partition", "--account", "--qos", "--time", "--mem", "--cpus-per-task", "--gpus"];

    public bool IsSlurm => Kind == Slurm;

    /// <summary>The first problem with the section's values as "field: reason" (field relative to the section); null when usable.</summary>
    public string? Problem()
    {
        if (!Kinds.Contains(Kind))
        {
            return $"kind: '{Kind}' is not one of {string.Join(", ", Kinds)}";
        }

        var slurmFields = new (string Field, bool Set)[]
        {
            ("partition", Partition is not null), ("account", Account is not null), ("qos", Qos is not null), ("timeMinutes", TimeMinutes is not null),
            ("memoryMb", MemoryMb is not null), ("cpusPerTask", CpusPerTask is not null), ("gpus", Gpus is not null), ("sbatchOptions", SbatchOptions is not null),
            ("maxJobsInFlight", MaxJobsInFlight is not null), ("jobDirectory", JobDirectory is not null), ("pollSeconds", PollSeconds is not null),
        };
        if (!IsSlurm && slurmFields.FirstOrDefault(f => f.Set) is { Field: { } given })
        {
            return $"{given}: only for kind slurm (kind is {Kind})";
        }

        static bool Word(string? value) => value is null || (value.Length > 0 && !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)));
        foreach (var (field, value) in new[] { ("partition", Partition), ("account", Account), ("qos", Qos), ("gpus", Gpus) })
        {
            if (!Word(value))
            {
                return $"{field}: '{value}' must be one word (no spaces)";
            }
        }

        if (TimeMinutes is < 1)
        {
            return "timeMinutes: must be at least 1";
        }

        if (MemoryMb is < 256)
        {
            return "memoryMb: must be at least 256";
        }

        if (CpusPerTask is < 1)
        {
            return "cpusPerTask: must be at least 1";
        }

        if (MaxJobsInFlight is < 1)
        {
            return "maxJobsInFlight: must be at least 1";
        }

        if (PollSeconds is { } poll && !(poll >= 0.1 && poll <= 600))
        {
            return "pollSeconds: must be from 0.1 to 600";
        }

        if (JobDirectory is { Length: 0 })
        {
            return "jobDirectory: must not be empty";
        }

        foreach (var (option, i) in (SbatchOptions ?? []).Select((o, i) => (o, i)))
        {
            if (!option.StartsWith('-') || option.Any(char.IsControl))
            {
                return $"sbatchOptions[{i}]: '{option}' is not an sbatch option (one argument, e.g. --constraint=avx2)";
            }

            var name = option.Split('=', 2)[0];
            if (ReservedSbatchOptions.Contains(name))
            {
                return $"sbatchOptions[{i}]: {name} is set by FairNad{(name is "--partition" or "--account" or "--qos" or "--time" or "--mem" or "--cpus-per-task" or "--gpus" ? $" from its own field of the executor section" : string.Empty)}";
            }
        }

        return null;
    }
}

/// <summary>
/// How the open space is seeded and sampled (the experiment file's optional "space" section), for comparing strategies on
/// equal terms. Every field is optional and its absence keeps what runs did before the section existed, so their
/// experiments keep their text, hash and lineage commits.
/// </summary>
/// <param name="SeedBudgetFractions">
/// Each reference is width-scaled to each of these fractions of the parameter budget (deduplicated by id) instead of to
/// the whole budget only, so the seed population spans the cost axis; null: [1.0].
/// </param>
/// <param name="RandomEdits">
/// The depth distribution of random samples (random search, and REA's top-up of its population): a seed plus k random
/// edits, k uniform on <see cref="EditRange.Min"/>..<see cref="EditRange.Max"/>, recorded in each sample's summary;
/// null: 0..2, unrecorded (as before).
/// </param>
/// <param name="BaselinesFromSeeds">Random search and REA propose the seed population first, in order, as FairNAD does (their first candidates are then the same); false: they start from random samples.</param>
/// <param name="SearchedParameters">
/// Transform parameters searched rather than fixed, each with its domain (e.g. kernel: 3, 5, 7): a realisation whose
/// transform takes one draws its value from the domain each time it is applied, by every strategy alike
/// (<see cref="FairNad.Search.SearchedParameters"/>); null: the values the tree gives, drawn as before.
/// </param>
public sealed record SpaceOptions(IReadOnlyList<double>? SeedBudgetFractions = null, EditRange? RandomEdits = null, bool BaselinesFromSeeds = false,
    IReadOnlyDictionary<string, IReadOnlyList<double>>? SearchedParameters = null)
{
    /// <summary>The fractions in force.</summary>
    public IReadOnlyList<double> Fractions => SeedBudgetFractions ?? [1.0];

    /// <summary>The first problem as "field: reason" (field relative to the section); null when usable.</summary>
    public string? Problem() =>
        SeedBudgetFractions is { } f && (f.Count == 0 || f.Any(x => !(x > 0 && x <= 1))) ? "seedBudgetFractions: give one or more fractions, each above 0 and at most 1" :
        SeedBudgetFractions is { } g && g.Distinct().Count() != g.Count ? "seedBudgetFractions: a fraction is listed twice" :
        RandomEdits is { } r && (r.Min < 0 || r.Max < r.Min || r.Max > 1000) ? "randomEdits: need 0 <= min <= max <= 1000" :
        SearchedParameters is { } searched && FairNad.Search.SearchedParameters.Problem(searched) is { } why ? $"searchedParameters{(why.StartsWith("name at least", StringComparison.Ordinal) ? ": " : ".")}{why}" : null;
}

/// <summary>A range of edit counts, both ends included; a random sample's depth is drawn uniformly from it.</summary>
public sealed record EditRange(int Min, int Max);

/// <summary>
/// A versioned experiment file (experiments/*.json). Everything a run depends on is here, so the file plus the harness
/// commit determine the run; its canonical form is hashed into the manifest and committed in the lineage root.
/// </summary>
/// <param name="Ladder">Multi-fidelity evaluation (rungs and promotion); null trains every candidate once at <see cref="Fidelity"/>.</param>
/// <param name="Noise">Seed-to-seed noise measurement for the feedback loop; null counts any gain above zero as an improvement.</param>
/// <param name="Space">How the open space is seeded and sampled (<see cref="SpaceOptions"/>); null as before the section existed.</param>
/// <param name="Profile">
/// The fidelity preset of the file's "profiles" table this experiment was made with (e.g. ci), or null for the file as
/// written. It names the run, so a preset's run never shares a folder or branches with the real run.
/// </param>
public sealed record Experiment(
    int Schema,
    string Name,
    string Description,
    string Dataset,
    Fidelity Fidelity,
    long ParameterBudget,
    string CostObjective,
    IReadOnlyList<string> References,
    int Population,
    int Tournament,
    int Batch,
    int Candidates,
    double? Minutes,
    string Strategy,
    MutationMix Mutation,
    IReadOnlyList<int> Seeds,
    LlmOptions Llm,
    EvaluationOptions Evaluation,
    string? Profile = null,
    Ladder? Ladder = null,
    NoiseOptions? Noise = null,
    ExecutorOptions? Executor = null,
    SpaceOptions? Space = null)
{
    public const int CurrentSchema = 1;

    public static readonly IReadOnlyList<string> Strategies =
        ["fairnad", "fairnad-no-fair-idea", "fairnad-no-pareto", "fairnad-no-llm", "fairnad-no-feedback", "random", "rea"];

    public static readonly IReadOnlyList<string> LlmModes = ["off", "auto", "live", "replay"];

    /// <summary>Input shape of the dataset's images as candidates see them.</summary>
    public InputSpec Input => Dataset switch
    {
        "fashion-mnist" => new InputSpec(1, 28, 10),
        "cifar10" => new InputSpec(3, 32, 10),
        "cifar100" => new InputSpec(3, 32, 100),
        "imagenet16-120" => new InputSpec(3, 16, 120),
        _ => throw new ExperimentException($"unknown dataset '{Dataset}'"),
    };

    /// <summary>The strategy, parsed: its family, the mutation types it must not use (the ablated one, and LLM-driven mutation when the LLM is off), feedback.</summary>
    /// <exception cref="ExperimentException">the strategy is not one of <see cref="Strategies"/>.</exception>
    public StrategyChoice Choice => Strategies.Contains(Strategy)
        ? StrategyChoice.Parse(Strategy, llmOff: Llm.Mode == "off")
        : throw new ExperimentException($"strategy: '{Strategy}' is not one of {string.Join(", ", Strategies)}");

    /// <summary>Mutation types this run cannot or must not use: the ablated one, and LLM-driven mutation when the LLM is off.</summary>
    public IReadOnlyList<string> DisabledMutations => Choice.DisabledMutations;

    /// <summary>How many rungs candidates are trained at: the ladder's, else one.</summary>
    public int RungCount => Ladder?.Rungs.Count ?? 1;

    /// <summary>The training at <paramref name="rung"/> (the experiment's fidelity without a ladder).</summary>
    public Fidelity FidelityAt(int rung) => Ladder is { } ladder ? ladder.At(Fidelity, rung) : rung == 0 ? Fidelity : throw new ArgumentOutOfRangeException(nameof(rung), rung, "the experiment has no ladder");

    /// <summary>The name of the run of this experiment with <paramref name="seed"/>.</summary>
    public string RunName(int seed) => Profile is null
        ? string.Create(CultureInfo.InvariantCulture, $"{Name}-{Strategy}-s{seed}")
        : string.Create(CultureInfo.InvariantCulture, $"{Name}-{Profile}-{Strategy}-s{seed}");

    /// <summary>
    /// The experiment as the lineage root commits it: execution settings that cannot change any result are normalised
    /// (how many workers, whether isolated and whether warm, since batches are fixed; live, auto or replay LLM, since they give the same
    /// answers; the executor, local or Slurm, since both run the same worker command), so the same search gives the same commit ids however it was executed.
    /// </summary>
    public string LineageJson(int seed) => (this with
    {
        Seeds = [seed],
        Llm = Llm with { Mode = Llm.Mode == "off" ? "off" : "auto", TimeoutSeconds = null, StallTimeoutSeconds = null, Recorded = null },
        Evaluation = Evaluation with { Jobs = 1, Isolated = true, WarmWorkers = true },
        Executor = null,
    }).ToJson();

    public string Hash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())));

    /// <summary>The experiment as a file, fields in a fixed order ("\n" newlines); reading it back gives an equal experiment.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("schema", Schema);
            w.WriteString("name", Name);

            // Written only when set, so an experiment without a profile keeps the hash (and lineage commits) it always had.
            if (Profile is not null)
            {
                w.WriteString("profile", Profile);
            }

            w.WriteString("description", Description);
            w.WriteString("dataset", Dataset);
            w.WriteStartObject("fidelity");
            w.WriteNumber("epochs", Fidelity.Epochs);
            w.WriteNumber("batchSize", Fidelity.BatchSize);
            w.WriteNumber("learningRate", Fidelity.LearningRate);
            Nullable(w, "trainSubset", Fidelity.TrainSubset);
            Nullable(w, "validationSubset", Fidelity.ValidationSubset);
            w.WriteBoolean("augment", Fidelity.Augment);
            w.WriteNumber("latencyRepeats", Fidelity.LatencyRepeats);
            w.WriteNumber("threads", Fidelity.Threads);
            w.WriteString("device", Fidelity.Device);
            w.WriteEndObject();

            // Ladder and noise are written only when set, so an experiment without them keeps its text, hash and commits.
            if (Ladder is { } ladder)
            {
                w.WriteStartObject("ladder");
                w.WriteStartArray("rungs");
                foreach (var rung in ladder.Rungs)
                {
                    w.WriteStartObject();
                    w.WriteNumber("epochs", rung.Epochs);
                    Nullable(w, "trainSubset", rung.TrainSubset);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteNumber("promote", ladder.Promote);
                w.WriteEndObject();
            }

            if (Noise is { } noise)
            {
                w.WriteStartObject("noise");
                w.WriteNumber("architectures", noise.Architectures);
                w.WriteNumber("seeds", noise.Seeds);
                w.WriteEndObject();
            }

            w.WriteNumber("parameterBudget", ParameterBudget);
            w.WriteString("costObjective", CostObjective);
            w.WriteStartArray("references");
            foreach (var r in References)
            {
                w.WriteStringValue(r);
            }

            w.WriteEndArray();

            // Only when given, so experiments without the section keep their text, hash and commits.
            if (Space is { } space)
            {
                WriteSpace(w, space);
            }

            w.WriteNumber("population", Population);
            w.WriteNumber("tournament", Tournament);
            w.WriteNumber("batch", Batch);
            w.WriteStartObject("budget");
            w.WriteNumber("candidates", Candidates);
            Nullable(w, "minutes", Minutes);

            w.WriteEndObject();
            w.WriteString("strategy", Strategy);
            w.WriteStartObject("mutation");
            w.WriteNumber("fairIdea", Mutation.FairIdea);
            w.WriteNumber("pareto", Mutation.Pareto);
            w.WriteNumber("llm", Mutation.Llm);
            w.WriteEndObject();
            w.WriteStartArray("seeds");
            foreach (var s in Seeds)
            {
                w.WriteNumberValue(s);
            }

            w.WriteEndArray();
            w.WriteStartObject("llm");
            w.WriteString("mode", Llm.Mode);
            w.WriteString("model", Llm.Model);
            w.WriteNumber("maxAttempts", Llm.MaxAttempts);
            if (Llm.WriteOperators)
            {
                w.WriteBoolean("writeOperators", true);
            }

            if (Llm.ContextLength is { } contextLength)
            {
                w.WriteNumber("contextLength", contextLength);
            }

            if (Llm.TimeoutSeconds is { } timeout)
            {
                w.WriteNumber("timeoutSeconds", timeout);
            }

            if (Llm.StallTimeoutSeconds is { } stall)
            {
                w.WriteNumber("stallTimeoutSeconds", stall);
            }

            if (Llm.Recorded is { } recorded)
            {
                w.WriteString("recorded", recorded);
            }

            w.WriteEndObject();
            w.WriteStartObject("evaluation");
            w.WriteNumber("jobs", Evaluation.Jobs);
            w.WriteBoolean("isolated", Evaluation.Isolated);
            w.WriteNumber("timeoutSeconds", Evaluation.TimeoutSeconds);
            w.WriteNumber("memoryMb", Evaluation.MemoryMb);
            if (!Evaluation.WarmWorkers)
            {
                // Only when not the default, so experiments that do not set it keep their text and hash.
                w.WriteBoolean("warmWorkers", false);
            }
            w.WriteEndObject();

            // Only when given, so experiments without the section keep their text and hash.
            if (Executor is { } executor)
            {
                WriteExecutor(w, executor);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    private static void WriteSpace(Utf8JsonWriter w, SpaceOptions space)
    {
        w.WriteStartObject("space");
        if (space.SeedBudgetFractions is { } fractions)
        {
            w.WriteStartArray("seedBudgetFractions");
            foreach (var f in fractions)
            {
                w.WriteNumberValue(f);
            }

            w.WriteEndArray();
        }

        if (space.RandomEdits is { } edits)
        {
            w.WriteStartObject("randomEdits");
            w.WriteNumber("min", edits.Min);
            w.WriteNumber("max", edits.Max);
            w.WriteEndObject();
        }

        if (space.BaselinesFromSeeds)
        {
            w.WriteBoolean("baselinesFromSeeds", true);
        }

        if (space.SearchedParameters is { } searched)
        {
            // Names in ordinal order (the canonical form); each domain in the order written, which fixes which draw picks which value.
            w.WriteStartObject("searchedParameters");
            foreach (var (name, values) in searched.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(name);
                foreach (var v in values)
                {
                    w.WriteNumberValue(v);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteExecutor(Utf8JsonWriter w, ExecutorOptions x)
    {
        w.WriteStartObject("executor");
        w.WriteString("kind", x.Kind);
        void Text(string name, string? value)
        {
            if (value is not null)
            {
                w.WriteString(name, value);
            }
        }

        void Number(string name, double? value)
        {
            if (value is { } v)
            {
                w.WriteNumber(name, v);
            }
        }

        Text("partition", x.Partition);
        Text("account", x.Account);
        Text("qos", x.Qos);
        Number("timeMinutes", x.TimeMinutes);
        Number("memoryMb", x.MemoryMb);
        Number("cpusPerTask", x.CpusPerTask);
        Text("gpus", x.Gpus);
        if (x.SbatchOptions is { } options)
        {
            w.WriteStartArray("sbatchOptions");
            foreach (var option in options)
            {
                w.WriteStringValue(option);
            }

            w.WriteEndArray();
        }

        Number("maxJobsInFlight", x.MaxJobsInFlight);
        Text("jobDirectory", x.JobDirectory);
        Number("pollSeconds", x.PollSeconds);
        w.WriteEndObject();
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>The first problem with the experiment's values, naming the field; null when it is usable.</summary>
    public string? Problem() => Checks().Select(c => c.Check() is { } why ? c.Field is "executor" or "space" ? $"{c.Field}.{why}" : $"{c.Field}: {why}" : null).FirstOrDefault(p => p is not null);

    /// <summary>Each field's check, in the order fields are reported; a check returns why the value is unusable, or null (the executor's check names its own field first).</summary>
    private IEnumerable<(string Field, Func<string?> Check)> Checks() =>
    [
        ("schema", () => Schema != CurrentSchema ? $"{Schema} is not {CurrentSchema}" : null),
        ("name", () => Name.Length == 0 || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? "use letters, digits, '-', '_' and '.' only (it becomes part of run and branch names)" : null),
        ("profile", () => Profile is { } profile && !ExperimentFile.IsProfileName(profile)
            ? $"'{profile}': use letters, digits, '-' and '_' only (it becomes part of run and branch names)" : null),
        ("dataset", () => !DatasetCatalog.Names.Contains(Dataset) ? $"'{Dataset}' is not one of {string.Join(", ", DatasetCatalog.Names)}" : null),
        ("fidelity", () => Fidelity.ToConfig(0).Problem()),
        ("ladder", () => Ladder?.Problem(Fidelity)),
        ("noise", () => Noise is not { } n ? null : n.Architectures < 1 || n.Seeds < 1 ? "architectures and seeds must each be at least 1" :
            n.Architectures > Math.Min(References.Count, Candidates) ? $"architectures: {n.Architectures} is more than the {Math.Min(References.Count, Candidates)} seed architecture(s) the run starts with" : null),
        ("parameterBudget", () => ParameterBudget < 1000 ? "must be at least 1000" : null),
        ("costObjective", () => CostObjective is not ("parameters" or "macs") ? $"'{CostObjective}' is not parameters or macs" : null),
        ("references", () => References.Count == 0 ? "name at least one reference architecture" :
            References.FirstOrDefault(r => !ReferenceArchitectures.Names.Contains(r)) is { } unknown ? $"'{unknown}' is not one of {string.Join(", ", ReferenceArchitectures.Names)}" :
            References.Distinct(StringComparer.Ordinal).Count() != References.Count ? "a reference is listed twice" : null),
        ("space", () => Space?.Problem() is { } spaceProblem ? spaceProblem : null),
        ("population", () => Population < 2 ? "must be at least 2" : null),
        ("tournament", () => Tournament < 1 ? "must be at least 1" : null),
        ("batch", () => Batch < 1 ? "must be at least 1" : null),
        ("budget.candidates", () => Candidates < 1 ? "must be at least 1" : null),
        ("budget.minutes", () => Minutes is <= 0 ? "must be positive (or null for no time limit)" : null),
        ("strategy", () => !Strategies.Contains(Strategy) ? $"'{Strategy}' is not one of {string.Join(", ", Strategies)}" : null),
        ("mutation", () => Mutation.FairIdea < 0 || Mutation.Pareto < 0 || Mutation.Llm < 0 ? "probabilities must not be negative" :
            Mutation.FairIdea + Mutation.Pareto + Mutation.Llm <= 0 ? "at least one probability must be positive" :
            Choice.DrawsMutations ? EffectiveMixProblem() : null),
        ("seeds", () => Seeds.Count == 0 ? "give at least one seed" : Seeds.Distinct().Count() != Seeds.Count ? "a seed is listed twice" : null),
        ("llm.mode", () => !LlmModes.Contains(Llm.Mode) ? $"'{Llm.Mode}' is not one of {string.Join(", ", LlmModes)}" : null),
        ("llm.model", () => Llm.Model.Length == 0 ? "must not be empty" : null),
        ("llm.recorded", () => Llm.Recorded is not { } r ? null :
            r.Trim().Length == 0 || Path.IsPathRooted(r) || r.Replace('\\', '/').Split('/').Contains("..") ? "must be a folder relative to the experiment file, inside its folder" : null),
        ("llm.maxAttempts", () => Llm.MaxAttempts < 1 ? "must be at least 1" : null),
        ("llm.contextLength", () => Llm.ContextLength is { } n && n is < 512 or > 1 << 20 ? "must be a number of tokens from 512 to 1048576" : null),
        ("llm.timeoutSeconds", () => Llm.TimeoutSeconds is { } t && !(t > 0 && t <= FairNad.Llm.LlmSettings.MaxTimeoutSeconds) ? "must be a number of seconds above 0 and at most 86400 (a day)" : null),
        ("llm.stallTimeoutSeconds", () => Llm.StallTimeoutSeconds is not { } s ? null :
            !(s > 0 && s <= FairNad.Llm.LlmSettings.MaxTimeoutSeconds) ? "must be a number of seconds above 0 and at most 86400 (a day)" :
            Llm.TimeoutSeconds is { } total && s > total ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must not exceed llm.timeoutSeconds ({total:G} s): it bounds the wait for each chunk of an answer, llm.timeoutSeconds the whole answer") : null),
        ("evaluation.jobs", () => Evaluation.Jobs < 1 ? "must be at least 1" :
            Evaluation.Jobs > 1 && !Evaluation.Isolated ? "more than one job needs isolated workers (libtorch settings are process-wide)" : null),
        ("evaluation.timeoutSeconds", () => Evaluation.TimeoutSeconds <= 0 ? "must be positive" : null),
        ("evaluation.memoryMb", () => Evaluation.MemoryMb < 256 ? "must be at least 256" : null),
        ("executor", () => Executor?.Problem() is { } problem ? problem :
            Executor?.IsSlurm == true && !Evaluation.Isolated ? "kind: slurm runs each candidate as a job of its own, in a worker process; evaluation.isolated must be true (no --in-process)" : null),
    ];

    private string? EffectiveMixProblem()
    {
        try
        {
            Choice.Mix(Mutation);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }
}
