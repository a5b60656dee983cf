using System.Text.Json;
using System.Text.Json.Serialization;

namespace FairNad.Evaluation.Training;

/// <summary>
/// Everything measured about one candidate, written as one JSON document (schema-versioned, atomically). Accuracies are
/// percentages: validation on the dataset's validation split (per epoch, best and last), test on its test split with the
/// last epoch's weights.
/// </summary>
public sealed record EvaluationResult
{
    public const int CurrentSchema = 1;

    public int Schema { get; init; } = CurrentSchema;

    public required string CandidateId { get; init; }

    public required string Dataset { get; init; }

    public string DataSource { get; init; } = string.Empty;

    public string SplitRule { get; init; } = string.Empty;

    public required TrainingConfig Config { get; init; }

    /// <summary>ok or failed.</summary>
    public required string Status { get; init; }

    /// <summary>One of <see cref="FailureCategories"/>.</summary>
    public string? FailureCategory { get; init; }

    public string? FailureMessage { get; init; }

    public long Parameters { get; init; }

    public long Macs { get; init; }

    public IReadOnlyList<double> TrainLoss { get; init; } = [];

    public IReadOnlyList<double> ValidationAccuracy { get; init; } = [];

    public double? BestValidationAccuracy { get; init; }

    public int? BestEpoch { get; init; }

    public double? LastValidationAccuracy { get; init; }

    public double? TestAccuracy { get; init; }

    /// <summary>
    /// SHA-256 of the trained model's state (every parameter and buffer in state-dict order: name, dtype, shape, bytes).
    /// Two runs trained bit for bit the same have the same hash; any difference in any weight changes it.
    /// </summary>
    public string? WeightsSha256 { get; init; }

    public double? LatencyBatch1Ms { get; init; }

    public double? LatencyBatch64Ms { get; init; }

    public double TrainSeconds { get; init; }

    /// <summary>The evaluating process's peak resident memory (VmHWM) in bytes: a measurement of this machine, like the times.</summary>
    public long? PeakResidentBytes { get; init; }

    public double ImagesPerSecond { get; init; }

    public string TorchSharpVersion { get; init; } = string.Empty;

    /// <summary>
    /// The libtorch kernels that ran (<see cref="TorchRuntime.KernelPolicy"/> and whether NNPACK was on): NNPACK runs only
    /// on CPUs that support it and rounds differently, so two machines give bit-identical results only with the same kernels.
    /// </summary>
    public string? Kernels { get; init; }

    public string Device { get; init; } = "cpu";

    public int Threads { get; init; }

    /// <summary>True on CPU with a fixed thread count; GPU kernels are not bit-exact.</summary>
    public bool BitExact { get; init; } = true;

    public string WorkerHost { get; init; } = string.Empty;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";

    /// <exception cref="FormatException">not a result document of a known schema; the message names the source.</exception>
    public static EvaluationResult Parse(string json, string source)
    {
        try
        {
            var result = JsonSerializer.Deserialize<EvaluationResult>(json, Options) ?? throw new FormatException($"{source}: empty document");
            return result.Schema == CurrentSchema ? result : throw new FormatException($"{source}: schema {result.Schema}, this version reads {CurrentSchema}");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not an evaluation result ({e.Message})", e);
        }
    }

    /// <summary>Writes to a temporary file beside <paramref name="path"/> and renames it, so readers never see half a document.</summary>
    public void WriteAtomically(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, ToJson());
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>A failure record with no measurements.</summary>
    public static EvaluationResult Failure(string candidateId, string dataset, TrainingConfig config, string category, string message) =>
        new() { CandidateId = candidateId, Dataset = dataset, Config = config, Status = "failed", FailureCategory = category, FailureMessage = message };
}
