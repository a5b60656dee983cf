using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FairNad.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Training;

/// <summary>A checkpoint that cannot be used for this training: another job's, or not a checkpoint at all. The message names the file.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What a checkpoint holds besides the tensors: how far training got and what it measured on the way.</summary>
/// <param name="Epochs">Epochs completed.</param>
/// <param name="Step">Optimizer steps taken (the cosine schedule's position).</param>
/// <param name="Losses">Mean training loss of each completed epoch.</param>
/// <param name="Accuracies">Validation accuracy after each completed epoch.</param>
/// <param name="Seconds">Training seconds spent so far, over every session.</param>
/// <param name="Images">Training images seen so far.</param>
public sealed record CheckpointProgress(int Epochs, int Step, IReadOnlyList<double> Losses, IReadOnlyList<double> Accuracies, double Seconds, long Images);

/// <summary>
/// The state of one training at an epoch boundary, in one file, so that a training of hours (the full-fidelity recipe on
/// a CPU) survives a kill, a closed session or a move to another machine, and continues to exactly the result of an
/// uninterrupted run. What an epoch boundary needs for that: the weights and buffers, the optimizer's momentum buffers,
/// the step count (the cosine schedule is per step), the losses and accuracies so far, and the default CPU generator's
/// state (dropout and drop-path draw from it). Shuffling and augmentation need nothing: each epoch draws from its own
/// generator seeded by (seed, epoch). On a GPU the CUDA generator is not saved, so a resumed GPU run is not claimed
/// bit-identical (GPU runs are not bit-exact anyway).
/// The file is written beside itself and renamed, so a kill never leaves half a checkpoint; it names the job it belongs
/// to (the candidate id, the training config and a hash of the training and validation images), and one that belongs to
/// another job is refused rather than silently trained on.
/// </summary>
public sealed class TrainingCheckpoint
{
    private const string Magic = "FAIRNAD-CHECKPOINT 1\n";

    public TrainingCheckpoint(string path, string job)
    {
        Path = System.IO.Path.GetFullPath(path);
        Job = job;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>The job fingerprint (<see cref="JobOf"/>) the file must carry.</summary>
    public string Job { get; }

    /// <summary>The fingerprint of a training job: everything that decides its trajectory.</summary>
    public static string JobOf(ArchitectureSpec spec, TrainingConfig config, TensorData data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var set in new[] { data.Splits.Train, data.Splits.Validation })
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{set.Count}x{set.Channels}x{set.Height}x{set.Width}\n"));
            hash.AppendData(set.Pixels);
            hash.AppendData(set.Labels.SelectMany(BitConverter.GetBytes).ToArray());
        }

        return $"candidate {spec.Id}; data sha256:{Convert.ToHexStringLower(hash.GetHashAndReset())}; config {config.ToJson().ReplaceLineEndings(" ").Trim()}";
    }

    /// <summary>Refuses, before any data is loaded, a file at <paramref name="path"/> that is not a checkpoint; no file is fine (training starts afresh).</summary>
    /// <exception cref="CheckpointException">the file is not a FairNad training checkpoint; the message names it.</exception>
    public static void CheckFormat(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var stream = File.OpenRead(path);
        var head = new byte[Magic.Length];
        if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) != head.Length || Encoding.ASCII.GetString(head) != Magic)
        {
            throw new CheckpointException($"{System.IO.Path.GetFullPath(path)} is not a FairNad training checkpoint; delete it or pass another --checkpoint to start afresh");
        }
    }

    /// <summary>Writes the state after <paramref name="progress"/>.Epochs epochs, atomically.</summary>
    public void Save(nn.Module model, TorchSharp.Modules.SGD optimizer, CheckpointProgress progress)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var header = new JsonObject
        {
            ["job"] = Job,
            ["epochs"] = progress.Epochs,
            ["step"] = progress.Step,
            // Doubles round-trip exactly through System.Text.Json's shortest representation.
            ["losses"] = new JsonArray([.. progress.Losses.Select(l => (JsonNode)l)]),
            ["accuracies"] = new JsonArray([.. progress.Accuracies.Select(a => (JsonNode)a)]),
            ["seconds"] = progress.Seconds,
            ["images"] = progress.Images,
        };
        var temporary = Path + ".tmp";
        using (var stream = File.Create(temporary))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            writer.Write(Encoding.ASCII.GetBytes(Magic));
            writer.Write(header.ToJsonString());
            using var rng = torch.random.get_rng_state();
            var state = rng.bytes.ToArray();
            writer.Write(state.Length);
            writer.Write(state);
            model.save(writer);
            optimizer.save_state_dict(writer);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>
    /// Restores the model, the optimizer and the default generator from the file and returns how far training got; null
    /// when there is no file yet.
    /// </summary>
    /// <exception cref="CheckpointException">the file belongs to another job or is not a checkpoint; the message names it.</exception>
    public CheckpointProgress? TryRestore(nn.Module model, TorchSharp.Modules.SGD optimizer)
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(Path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            var magic = Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length));
            if (magic != Magic)
            {
                throw new CheckpointException($"{Path} is not a FairNad training checkpoint; delete it or pass another --checkpoint to start afresh");
            }

            var header = JsonNode.Parse(reader.ReadString())?.AsObject() ?? throw new CheckpointException($"{Path}: empty checkpoint header");
            var job = header["job"]?.GetValue<string>();
            if (job != Job)
            {
                throw new CheckpointException(
                    $"{Path} belongs to another training ({job}); this one is {Job}. Delete the file or pass another --checkpoint to start afresh");
            }

            var progress = new CheckpointProgress(
                header["epochs"]!.GetValue<int>(),
                header["step"]!.GetValue<int>(),
                [.. header["losses"]!.AsArray().Select(n => n!.GetValue<double>())],
                [.. header["accuracies"]!.AsArray().Select(n => n!.GetValue<double>())],
                header["seconds"]!.GetValue<double>(),
                header["images"]!.GetValue<long>());
            var length = reader.ReadInt32();
            var state = reader.ReadBytes(length);
            model.load(reader, strict: true);
            optimizer.load_state_dict(reader);
            using var rng = torch.tensor(state, dtype: ScalarType.Byte);
            torch.random.set_rng_state(rng);
            return progress;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or JsonException or InvalidOperationException or ArgumentException or FormatException or NullReferenceException)
        {
            throw new CheckpointException($"{Path} cannot be read as a training checkpoint ({e.Message}); delete it to start afresh", e);
        }
    }
}
