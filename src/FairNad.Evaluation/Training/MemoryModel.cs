using System.Globalization;
using FairNad.Architecture;

namespace FairNad.Evaluation.Training;

/// <summary>The predicted peak resident memory of a worker that trains one candidate, by part.</summary>
/// <param name="Process">The .NET runtime and libtorch, loaded.</param>
/// <param name="Data">The dataset as read (pixels, labels, splits) and as prepared tensors.</param>
/// <param name="Parameters">Weights, gradients and SGD momentum.</param>
/// <param name="Activations">Tensors saved for the backward pass at the training batch size.</param>
/// <param name="Attention">Attention matrices saved for the backward pass at the training batch size.</param>
/// <param name="Inference">The largest forward pass without gradients: evaluation at the training batch size, latency at batch 64.</param>
/// <param name="Workspace">Kernel workspaces (im2col) and transient tensors.</param>
public sealed record MemoryPrediction(long Process, long Data, long Parameters, long Activations, long Attention, long Inference, long Workspace)
{
    /// <summary>Training and inference do not overlap: the larger of the two counts.</summary>
    public long Total => checked(Process + Data + Parameters + Math.Max(Activations + Attention, Inference) + Workspace);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{MemoryModel.Format(Total)} (training activations {MemoryModel.Format(Activations)}, attention {MemoryModel.Format(Attention)}, inference {MemoryModel.Format(Inference)}, parameters {MemoryModel.Format(Parameters)}, data {MemoryModel.Format(Data)}, process and workspace {MemoryModel.Format(Process + Workspace)})");
}

/// <summary>
/// Predicts a CPU worker's peak resident memory before anything is built, from the spec's training footprint
/// (<see cref="TrainingMemory"/>), the batch size and the dataset, so a candidate over the memory budget is rejected the
/// same way on every machine instead of being killed when the machine's memory runs out. The factors were calibrated with
/// `fairnad bench memory` on the 2-core development machine: 30 workers, each training one calibration candidate, with
/// glibc's mmap threshold fixed so that resident memory follows live memory. The prediction is an upper envelope of every
/// live peak measured there (measured / predicted at most 0.94, mean 0.63 on 2026-11-30; live peaks of one worker vary
/// by up to 9% between runs). As searches run (glibc's mmap threshold at <see cref="TorchRuntime.MmapThreshold"/>) a
/// worker also keeps some memory it freed, up to 1.36 times the prediction in that run, which the
/// worker's safety cap (twice the budget) leaves room for. GPU memory is not predicted.
/// </summary>
public static class MemoryModel
{
    /// <summary>The runtime with libtorch loaded, before any data: measured 146-151 MiB.</summary>
    public const long ProcessBytes = 160L << 20;

    /// <summary>Peak bytes per raw dataset pixel byte while loading and preparing: decompression buffers, splits, float tensors.</summary>
    public const double DataFactor = 9;

    /// <summary>Bytes per parameter: float32 weight, gradient, momentum buffer and a transient copy in the optimizer step.</summary>
    public const long BytesPerParameter = 16;

    /// <summary>Measured peak of saved activations against the footprint's count (backward's transient gradients on top).</summary>
    public const double ActivationFactor = 1.15;

    /// <summary>The same for attention matrices (their gradients are as large as they are).</summary>
    public const double AttentionFactor = 1.3;

    /// <summary>
    /// A forward pass without gradients keeps the same tensors (a pass's tensors live until its dispose scope ends), so
    /// it counts activations and attention matrices alike, at its own batch size. At 1.0 the pixel-attention ViT's live
    /// peak reached the prediction exactly (6,435 of 6,436 MiB); 1.1 leaves that case 10% of margin.
    /// </summary>
    public const double InferenceFactor = 1.1;

    /// <summary>Latency is measured at this batch size (and batch 1).</summary>
    public const int LatencyBatch = 64;

    /// <summary>
    /// Convolution workspaces (im2col), transient tensors and run-to-run variation: the largest residual seen was 256 MiB,
    /// and the same worker's live peak varies between runs (a 100k ResNet at batch 32: 555 and 586 MiB in two runs of the
    /// benchmark, the .NET heap growing differently), so 64 MiB more.
    /// </summary>
    public const long WorkspaceBytes = 320L << 20;

    /// <summary>The prediction for training <paramref name="spec"/> with <paramref name="config"/> on a dataset of <paramref name="datasetPixelBytes"/> raw pixel bytes.</summary>
    /// <param name="costs">Measured costs of LLM-written operators (their parameters), or null.</param>
    public static MemoryPrediction Predict(ArchitectureSpec spec, TrainingConfig config, long datasetPixelBytes, IOperatorCosts? costs = null)
    {
        var footprint = TrainingMemory.Footprint(spec, costs);
        checked
        {
            return new MemoryPrediction(
                ProcessBytes,
                (long)(DataFactor * datasetPixelBytes),
                BytesPerParameter * footprint.Parameters,
                (long)(ActivationFactor * 4 * (double)config.BatchSize * footprint.ActivationElements),
                (long)(AttentionFactor * 4 * (double)config.BatchSize * footprint.AttentionElements),
                (long)(InferenceFactor * 4 * (double)Math.Max(LatencyBatch, config.BatchSize) * (footprint.ActivationElements + footprint.AttentionElements)),
                WorkspaceBytes);
        }
    }

    /// <summary>Bytes as MiB or GiB, for messages.</summary>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB");

    /// <summary>
    /// Starts this process's peak resident set (VmHWM) over from its current resident set (Linux clear_refs 5), so a warm
    /// worker's <see cref="PeakResidentBytes"/> is the peak of the current job, not of every job before it. Does nothing
    /// where that is not possible.
    /// </summary>
    public static void ResetPeakResidentBytes()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc is read-only here: the peak then covers the worker's life, as documented.
        }
    }

    /// <summary>This process's peak resident set (VmHWM) in bytes, or null where /proc is not there.</summary>
    public static long? PeakResidentBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
