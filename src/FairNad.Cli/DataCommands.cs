using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using FairNad.Data;

namespace FairNad.Cli;

/// <summary>`fairnad data ...`: fetch, inspect and subset datasets.</summary>
internal static class DataCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Show(string dataset, string? dataDirectory, TextWriter output)
    {
        var splits = DatasetCatalog.Load(dataset, DatasetCatalog.DataDirectory(dataDirectory));
        output.WriteLine($"dataset     {splits.Dataset}");
        output.WriteLine($"source      {splits.Source}");
        output.WriteLine($"splits      {splits.SplitRule}");
        foreach (var set in new[] { splits.Train, splits.Validation, splits.Test })
        {
            output.WriteLine(string.Create(Invariant, $"{set.Name,-28} {set.Count,7:N0} images {set.Channels}x{set.Height}x{set.Width}, {set.Classes} classes, per class {set.ClassCounts().Min()}..{set.ClassCounts().Max()}"));
        }

        return 0;
    }

    public static int Download(string dataset, string? dataDirectory, TextWriter output, TextWriter log)
    {
        var directory = DatasetCatalog.DataDirectory(dataDirectory);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        var last = -1L;
        var progress = new SyncProgress<DownloadProgress>(p =>
        {
            var percent = p.Total is { } total && total > 0 ? p.Bytes * 100 / total : -1;
            if (percent != last)
            {
                last = percent;
                var bar = percent < 0 ? string.Empty : new string('#', (int)(percent / 5)).PadRight(20, '.');
                log.Write(string.Create(Invariant, $"\r{p.FileName,-28} [{bar}] {p.Bytes / 1048576.0,7:F1} MiB{(percent < 0 ? string.Empty : $" {percent,3}%")}"));
            }
        });
        try
        {
            foreach (var path in DatasetCatalog.DownloadAsync(dataset, directory, http, progress).GetAwaiter().GetResult())
            {
                log.WriteLine();
                output.WriteLine($"verified {path}");
            }
        }
        catch (HttpRequestException e)
        {
            throw new DataUnavailableException($"{dataset}: cannot reach the download server ({e.Message}); offline, place the files in {directory} by hand");
        }

        return 0;
    }

    /// <summary>Recreates the embedded Fashion-MNIST subset from the full files and reports the content hashes.</summary>
    public static int MakeSubset(string from, string outDirectory, TextWriter output)
    {
        var train = IdxReader.Read(Path.Combine(from, "train-images-idx3-ubyte.gz"), Path.Combine(from, "train-labels-idx1-ubyte.gz"), "train");
        var test = IdxReader.Read(Path.Combine(from, "t10k-images-idx3-ubyte.gz"), Path.Combine(from, "t10k-labels-idx1-ubyte.gz"), "test");
        var (subsetTrain, subsetTest) = EmbeddedSubset.Create(train, test);
        Directory.CreateDirectory(outDirectory);
        foreach (var (set, prefix) in new[] { (subsetTrain, "train"), (subsetTest, "t10k") })
        {
            var (images, labels) = EmbeddedSubset.ToIdx(set);
            foreach (var (bytes, name) in new[] { (images, $"{prefix}-images-idx3-ubyte.gz"), (labels, $"{prefix}-labels-idx1-ubyte.gz") })
            {
                var path = Path.Combine(outDirectory, name);
                using (var file = File.Create(path))
                using (var gzip = new GZipStream(file, CompressionLevel.SmallestSize))
                {
                    gzip.Write(bytes);
                }

                output.WriteLine(string.Create(Invariant, $"{name,-28} {new FileInfo(path).Length,9:N0} bytes; uncompressed sha256:{Convert.ToHexStringLower(SHA256.HashData(bytes))}"));
            }
        }

        return 0;
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
