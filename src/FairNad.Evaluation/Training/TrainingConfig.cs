namespace FairNad.Evaluation.Training;

/// <summary>
/// How a candidate is trained. <see cref="Full"/> is the NADER / NAS-Bench-201 recipe (SGD, Nesterov momentum 0.9,
/// lr 0.1, weight decay 5e-4, cosine schedule, batch 256, 200 epochs, random crop with padding and horizontal flip); the
/// other fields are the fidelity knobs a search turns down.
/// </summary>
/// <param name="Epochs">Passes over the training subset.</param>
/// <param name="BatchSize">Training batch size.</param>
/// <param name="LearningRate">Initial learning rate, annealed by a per-step cosine to 0.</param>
/// <param name="Momentum">SGD momentum.</param>
/// <param name="Nesterov">Nesterov momentum.</param>
/// <param name="WeightDecay">L2 weight decay on every parameter.</param>
/// <param name="TrainSubset">Use only this many training images (class-stratified, seeded); null = all.</param>
/// <param name="ValidationSubset">Evaluate on only this many validation images; null = all.</param>
/// <param name="Resolution">Resize images to this side (bilinear); null = native.</param>
/// <param name="Augment">Random crop (padding = side / 8) and horizontal flip during training.</param>
/// <param name="Threads">libtorch intra-op threads (recorded; results are bit-exact only for a fixed count).</param>
/// <param name="Seed">Seed of weight initialisation, shuffling and augmentation.</param>
/// <param name="LatencyRepeats">Timed forward passes per batch size for the latency median.</param>
/// <param name="Device">Where to train: cpu (bit-exact for a fixed thread count), cuda or cuda:N (needs the Cuda libtorch backend and a GPU).</param>
public sealed record TrainingConfig(
    int Epochs = 200,
    int BatchSize = 256,
    double LearningRate = 0.1,
    double Momentum = 0.9,
    bool Nesterov = true,
    double WeightDecay = 5e-4,
    int? TrainSubset = null,
    int? ValidationSubset = null,
    int? Resolution = null,
    bool Augment = true,
    int Threads = 1,
    long Seed = 0,
    int LatencyRepeats = 10,
    string Device = "cpu")
{
    public static TrainingConfig Full => new();

    /// <summary>The quick-search fidelity: a few epochs on a few thousand images, on one CPU core in about a minute.</summary>
    public static TrainingConfig Quick => new(Epochs: 3, BatchSize: 128, LearningRate: 0.05, TrainSubset: 5000, ValidationSubset: 1000, LatencyRepeats: 5);

    private static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The config as a JSON document (what a worker process reads with <c>fairnad evaluate --config</c>).</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, Json).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";

    /// <exception cref="FormatException">not a training config; the message names the source.</exception>
    public static TrainingConfig Parse(string json, string source)
    {
        try
        {
            var config = System.Text.Json.JsonSerializer.Deserialize<TrainingConfig>(json, Json) ?? throw new FormatException($"{source}: empty document");
            return config.Problem() is { } problem ? throw new FormatException($"{source}: {problem}") : config;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new FormatException($"{source}: not a training config ({e.Message})", e);
        }
    }

    /// <summary>The first invalid field, or null.</summary>
    public string? Problem() =>
        Epochs < 1 ? "epochs must be at least 1" :
        BatchSize < 1 ? "batchSize must be at least 1" :
        LearningRate <= 0 ? "learningRate must be positive" :
        Momentum is < 0 or >= 1 ? "momentum must lie in [0, 1)" :
        WeightDecay < 0 ? "weightDecay must not be negative" :
        TrainSubset is < 1 ? "trainSubset must be at least 1" :
        ValidationSubset is < 1 ? "validationSubset must be at least 1" :
        Resolution is < 4 ? "resolution must be at least 4" :
        Threads < 1 ? "threads must be at least 1" :
        LatencyRepeats < 1 ? "latencyRepeats must be at least 1" :
        !TorchRuntime.IsDeviceName(Device) ? $"device must be cpu, cuda or cuda:<index>, not '{Device}'" : null;
}
