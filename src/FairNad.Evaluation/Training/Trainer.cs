using System.Diagnostics;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Data;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Training;

/// <summary>Progress after each epoch; <see cref="LiveTensors"/> lets callers (and the leak test) watch native memory.</summary>
public sealed record EpochReport(int Epoch, double TrainLoss, double ValidationAccuracy, double LearningRate, long LiveTensors, double Seconds);

/// <summary>A dataset as normalised float tensors, ready for one candidate's training.</summary>
public sealed class TensorData : IDisposable
{
    private TensorData(Tensor trainX, Tensor trainY, Tensor validX, Tensor validY, Tensor testX, Tensor testY, DatasetSplits splits, int side)
    {
        (TrainX, TrainY, ValidX, ValidY, TestX, TestY, Splits, Side) = (trainX, trainY, validX, validY, testX, testY, splits, side);
    }

    public Tensor TrainX { get; }

    public Tensor TrainY { get; }

    public Tensor ValidX { get; }

    public Tensor ValidY { get; }

    public Tensor TestX { get; }

    public Tensor TestY { get; }

    public DatasetSplits Splits { get; }

    public int Side { get; }

    public InputSpec Input => new(Splits.Train.Channels, Side, Splits.Train.Classes);

    /// <summary>Subsets (class-stratified, seeded), normalises with the training subset's per-channel mean and std, and resizes.</summary>
    public static TensorData Prepare(DatasetSplits splits, TrainingConfig config)
    {
        // The normalisation statistics are reductions: computed with the process's default thread count they would depend
        // on the machine's cores and on whether anything ran before. Pin the threads first.
        TorchRuntime.Configure(config.Threads, config.Seed);
        var train = config.TrainSubset is { } n && n < splits.Train.Count
            ? Data.Splits.Stratified(splits.Train, (double)n / splits.Train.Count, (int)(config.Seed % int.MaxValue), "rest", splits.Train.Name).Held
            : splits.Train;
        var valid = config.ValidationSubset is { } v && v < splits.Validation.Count
            ? Data.Splits.Stratified(splits.Validation, (double)v / splits.Validation.Count, 7, "rest", splits.Validation.Name).Held
            : splits.Validation;
        using var scope = torch.NewDisposeScope();
        var trainX = ToTensor(train);
        var mean = trainX.mean([0, 2, 3], keepdim: true);
        var std = trainX.std([0, 2, 3], keepdim: true).clamp_min(1e-6);
        Tensor Normalise(ImageSet set)
        {
            var x = (ToTensor(set) - mean) / std;
            return config.Resolution is { } side && side != set.Height
                ? nn.functional.interpolate(x, [side, side], mode: InterpolationMode.Bilinear, align_corners: false)
                : x;
        }

        var device = TorchRuntime.Device(config.Device);
        Tensor Place(Tensor t) => t.to(device).MoveToOuterDisposeScope();
        var result = new TensorData(
            Place(Normalise(train)), Place(Labels(train)),
            Place(Normalise(valid)), Place(Labels(valid)),
            Place(Normalise(splits.Test)), Place(Labels(splits.Test)),
            splits with { Train = train, Validation = valid },
            config.Resolution ?? splits.Train.Height);
        return result;
    }

    public void Dispose()
    {
        foreach (var t in new[] { TrainX, TrainY, ValidX, ValidY, TestX, TestY })
        {
            t.Dispose();
        }
    }

    private static Tensor ToTensor(ImageSet set) =>
        torch.tensor(set.Pixels, [set.Count, set.Channels, set.Height, set.Width], dtype: ScalarType.Byte).to_type(ScalarType.Float32).div_(255);

    private static Tensor Labels(ImageSet set) => torch.tensor(set.Labels.Select(l => (long)l).ToArray(), dtype: ScalarType.Int64);
}

/// <summary>
/// Trains and measures one candidate in this process: SGD with a per-step cosine schedule, one dispose scope per step,
/// evaluation under no_grad, explicit generators per run and epoch (a different, reproducible shuffle each epoch).
/// On CPU with a fixed thread count the same spec, seed and data give bit-identical metrics.
/// </summary>
public static class Trainer
{
    /// <param name="checkpoint">
    /// Optional: a file the training's state is written to after every epoch and resumed from when it exists (a
    /// <see cref="TrainingCheckpoint"/> of this job), so a long training continues where a kill left it, to the same
    /// result as an uninterrupted one.
    /// </param>
    /// <exception cref="CheckpointException">the checkpoint file belongs to another job or cannot be read.</exception>
    public static EvaluationResult Evaluate(ArchitectureSpec spec, TensorData data, TrainingConfig config, Action<EpochReport>? onEpoch = null, CancellationToken cancel = default,
        string? checkpoint = null)
    {
        var id = spec.Id;
        var dataset = data.Splits.Dataset;
        if (config.Problem() is { } problem)
        {
            return EvaluationResult.Failure(id, dataset, config, FailureCategories.Error, $"training config: {problem}");
        }

        if (spec.Input != data.Input)
        {
            return EvaluationResult.Failure(id, dataset, config, FailureCategories.InputMismatch,
                $"candidate {id[..12]} expects input {spec.Input.Channels}x{spec.Input.Resolution}x{spec.Input.Resolution} with {spec.Input.Classes} classes, but {dataset} gives {data.Input.Channels}x{data.Input.Resolution}x{data.Input.Resolution} with {data.Input.Classes}");
        }

        NetworkPlan plan;
        try
        {
            plan = NetworkPlanner.Plan(spec, $"candidate {id[..12]}");
        }
        catch (InvalidArchitectureException e)
        {
            return EvaluationResult.Failure(id, dataset, config, FailureCategories.InvalidSpec, e.Message);
        }

        var info = TorchRuntime.Configure(config.Threads, config.Seed);
        torch.Device device;
        try
        {
            device = TorchRuntime.Device(config.Device);
        }
        catch (DeviceUnavailableException e)
        {
            return EvaluationResult.Failure(id, dataset, config, FailureCategories.DeviceUnavailable, e.Message);
        }

        if (data.TrainX.device.ToString() != device.ToString())
        {
            return EvaluationResult.Failure(id, dataset, config, FailureCategories.Error, $"the data was prepared on {data.TrainX.device}, the config asks for {device}");
        }

        // Weights are initialised on the CPU from the seeded generator, then moved, so a GPU run starts from the CPU run's weights.
        using var model = new InterpretedNetwork(plan);
        model.to(device);
        var baseline = Provenance(id, dataset, data, config, plan, info);
        var (losses, accuracies, failure, seconds, images) = Train(model, data, config, onEpoch, cancel,
            checkpoint is null ? null : new TrainingCheckpoint(checkpoint, TrainingCheckpoint.JobOf(spec, config, data)));
        if (failure is not null)
        {
            return baseline with
            {
                Status = "failed", FailureCategory = FailureCategories.Diverged, FailureMessage = failure, TrainLoss = losses, ValidationAccuracy = accuracies, TrainSeconds = seconds,
                PeakResidentBytes = MemoryModel.PeakResidentBytes(),
            };
        }

        var best = accuracies.Select((a, i) => (a, i)).MaxBy(x => x.a);
        var weights = WeightsSha256(model);
        var test = Accuracy(model, data.TestX, data.TestY, config.BatchSize);
        var (b1, b64) = Latency(model, data.Input, config.LatencyRepeats, device);
        return baseline with
        {
            Status = "ok",
            TrainLoss = losses,
            ValidationAccuracy = accuracies,
            BestValidationAccuracy = best.a,
            BestEpoch = best.i + 1,
            LastValidationAccuracy = accuracies[^1],
            TestAccuracy = test,
            WeightsSha256 = weights,
            LatencyBatch1Ms = b1,
            LatencyBatch64Ms = b64,
            TrainSeconds = seconds,
            ImagesPerSecond = seconds > 0 ? images / seconds : 0,
            PeakResidentBytes = MemoryModel.PeakResidentBytes(),
        };
    }

    /// <summary>The training loop alone (no data preparation, no test or latency): what the overhead benchmark compares against.</summary>
    /// <remarks>With a <paramref name="checkpoint"/>, the state is restored from it when the file exists and saved to it after every epoch.</remarks>
    public static (List<double> Losses, List<double> Accuracies, string? Failure, double Seconds, long Images) Train(
        nn.Module<Tensor, Tensor> model, TensorData data, TrainingConfig config, Action<EpochReport>? onEpoch = null, CancellationToken cancel = default,
        TrainingCheckpoint? checkpoint = null)
    {
        var optimizer = torch.optim.SGD(model.parameters(), config.LearningRate, config.Momentum, 0, config.WeightDecay, config.Nesterov);
        var count = data.TrainX.shape[0];
        var stepsPerEpoch = (int)((count + config.BatchSize - 1) / config.BatchSize);
        var totalSteps = stepsPerEpoch * config.Epochs;
        var losses = new List<double>();
        var accuracies = new List<double>();
        var watch = Stopwatch.StartNew();
        long images = 0;
        var step = 0;
        var first = 0;
        var before = 0.0;
        if (checkpoint?.TryRestore(model, optimizer) is { } restored)
        {
            (first, step, images, before) = (restored.Epochs, restored.Step, restored.Images, restored.Seconds);
            losses.AddRange(restored.Losses);
            accuracies.AddRange(restored.Accuracies);
        }

        for (var epoch = first; epoch < config.Epochs; epoch++)
        {
            model.train();
            using var generator = new torch.Generator((ulong)((config.Seed * 1_000_003L) + epoch + 1));
            using var cpuOrder = torch.randperm(count, generator: generator);
            using var order = cpuOrder.to(data.TrainX.device);
            double lossSum = 0;
            long seen = 0;
            var lr = config.LearningRate;
            for (var start = 0L; start < count; start += config.BatchSize)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                lr = 0.5 * config.LearningRate * (1 + Math.Cos(Math.PI * step / totalSteps));
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = lr;
                }

                var index = order.narrow(0, start, Math.Min(config.BatchSize, count - start));
                var x = data.TrainX.index_select(0, index);
                if (config.Augment)
                {
                    x = Augment(x, generator);
                }

                var y = data.TrainY.index_select(0, index);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                var value = loss.item<float>();
                if (!float.IsFinite(value) || value > 1e6)
                {
                    return (losses, accuracies, $"training loss became {value} at epoch {epoch + 1}, step {step + 1}", before + watch.Elapsed.TotalSeconds, images);
                }

                loss.backward();
                optimizer.step();
                lossSum += value * index.shape[0];
                seen += index.shape[0];
                images += index.shape[0];
                step++;
            }

            losses.Add(lossSum / seen);
            accuracies.Add(Accuracy(model, data.ValidX, data.ValidY, config.BatchSize));
            checkpoint?.Save(model, optimizer, new CheckpointProgress(epoch + 1, step, losses, accuracies, before + watch.Elapsed.TotalSeconds, images));
            onEpoch?.Invoke(new EpochReport(epoch + 1, losses[^1], accuracies[^1], lr, DisposeScopeManager.Statistics.ThreadTotalLiveCount, before + watch.Elapsed.TotalSeconds));
        }

        return (losses, accuracies, null, before + watch.Elapsed.TotalSeconds, images);
    }

    /// <summary>
    /// SHA-256 over the module's state dict in order: each entry's name, dtype, shape and raw bytes (copied to the CPU).
    /// The fingerprint that determinism checks compare: equal iff every weight and buffer is bit-identical.
    /// </summary>
    public static string WeightsSha256(nn.Module model)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var _ = torch.no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            using var scope = torch.NewDisposeScope();
            var cpu = tensor.detach().cpu().contiguous();
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{name}\0{cpu.dtype}\0{string.Join(",", cpu.shape)}\0")));
            hash.AppendData(cpu.bytes);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Top-1 accuracy in percent, in eval mode under no_grad. Training evaluates in batches of its own batch size, so
    /// evaluation never needs more memory than a training step (a larger batch once made attention at 28 x 28 need 20 GB).
    /// </summary>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, int batch)
    {
        model.eval();
        using var _ = torch.no_grad();
        long correct = 0;
        var count = x.shape[0];
        for (var start = 0L; start < count; start += batch)
        {
            using var scope = torch.NewDisposeScope();
            var length = Math.Min(batch, count - start);
            var predicted = model.forward(x.narrow(0, start, length)).argmax(1);
            correct += predicted.eq(y.narrow(0, start, length)).sum().item<long>();
        }

        return 100.0 * correct / count;
    }

    /// <summary>Median inference latency in milliseconds at batch 1 and 64 on the model's device (a GPU is synchronised by reading the output).</summary>
    public static (double Batch1, double Batch64) Latency(nn.Module<Tensor, Tensor> model, InputSpec input, int repeats, torch.Device? device = null)
    {
        var on = device ?? torch.CPU;
        model.eval();
        using var _ = torch.no_grad();
        double Median(int batch)
        {
            using var generator = new torch.Generator(99);
            using var cpu = torch.randn([batch, input.Channels, input.Resolution, input.Resolution], generator: generator);
            using var x = cpu.to(on);
            // One dispose scope per forward pass: without it the pass's intermediate tensors live until the .NET GC
            // finalizes them, which it does not hurry for native memory (attention at batch 64 once held 9 GB this way).
            for (var i = 0; i < 2; i++)
            {
                using var scope = torch.NewDisposeScope();
                Wait(model.forward(x));
            }

            var times = new List<double>();
            for (var i = 0; i < repeats; i++)
            {
                using var scope = torch.NewDisposeScope();
                var watch = Stopwatch.StartNew();
                Wait(model.forward(x));
                times.Add(watch.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            return times[times.Count / 2];
        }

        void Wait(Tensor y)
        {
            if (on.type == DeviceType.CUDA)
            {
                using var first = y.flatten()[0];
                first.item<float>();
            }
        }

        return (Median(1), Median(64));
    }

    /// <summary>Random crop with zero padding of side/8 and horizontal flip, drawn from <paramref name="generator"/>.</summary>
    public static Tensor Augment(Tensor x, torch.Generator generator)
    {
        var (n, h, w) = (x.shape[0], x.shape[2], x.shape[3]);
        var pad = Math.Max(1, h / 8);
        var padded = nn.functional.pad(x, [pad, pad, pad, pad]);
        var shifts = torch.randint(0, (2 * pad) + 1, [n, 2], generator: generator, dtype: ScalarType.Int64).data<long>().ToArray();
        var flips = torch.rand([n], generator: generator).lt(0.5).data<bool>().ToArray();
        var crops = new Tensor[n];
        for (var i = 0; i < n; i++)
        {
            var crop = padded[i].narrow(1, shifts[2 * i], h).narrow(2, shifts[(2 * i) + 1], w);
            crops[i] = flips[i] ? crop.flip(2) : crop;
        }

        return torch.stack(crops);
    }

    private static EvaluationResult Provenance(string id, string dataset, TensorData data, TrainingConfig config, NetworkPlan plan, TorchRuntimeInfo info) => new()
    {
        CandidateId = id,
        Dataset = dataset,
        DataSource = data.Splits.Source,
        SplitRule = data.Splits.SplitRule,
        Config = config,
        Status = "running",
        Parameters = plan.Analysis.Parameters,
        Macs = plan.Analysis.Macs,
        TorchSharpVersion = info.TorchSharpVersion,
        Kernels = info.Kernels,
        Device = config.Device,
        Threads = info.Threads,
        BitExact = config.Device == "cpu",
        WorkerHost = Environment.MachineName,
    };
}
