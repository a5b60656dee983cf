using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace FairNad.Data;

/// <summary>A file to fetch: where from, where to, and the checksum (<c>sha256:</c> or <c>md5:</c> hex) it must have.</summary>
public sealed record RemoteFile(string Url, string FileName, string Checksum);

/// <summary>Progress of one file: bytes so far and the total when the server says.</summary>
public readonly record struct DownloadProgress(string FileName, long Bytes, long? Total);

/// <summary>
/// Downloads with atomic writes: the body goes to <c>name.partial</c> (resumed with an HTTP range request when a previous
/// attempt left one), is verified against its checksum, and only then renamed into place. A file that fails its
/// checksum is deleted and reported; it is never used.
/// </summary>
public sealed class Downloader(HttpClient http, int attempts = 3)
{
    public async Task<string> FetchAsync(RemoteFile file, string directory, IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        if (File.Exists(directory))
        {
            throw new DataFormatException($"{directory} is a file; expected a directory to download {file.FileName} into");
        }

        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, file.FileName);
        if (Directory.Exists(target))
        {
            throw new DataFormatException($"{target} is a directory; expected the file {file.FileName} there");
        }

        if (File.Exists(target))
        {
            var actual = Checksum(target, file.Checksum);
            if (actual == file.Checksum)
            {
                return target;
            }

            throw new DataFormatException($"{target} exists but its checksum is {actual}, not {file.Checksum}; delete it to download again");
        }

        var partial = target + ".partial";
        Exception? last = null;
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            try
            {
                await TransferAsync(file, partial, progress, cancel).ConfigureAwait(false);
                var actual = Checksum(partial, file.Checksum);
                if (actual != file.Checksum)
                {
                    File.Delete(partial);
                    throw new DataFormatException($"{file.Url}: downloaded {file.FileName} has checksum {actual}, expected {file.Checksum}; the file was deleted");
                }

                File.Move(partial, target, overwrite: false);
                return target;
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !cancel.IsCancellationRequested)
            {
                // Keep the partial file: the next attempt (or the next run) resumes it.
                last = e;
            }
        }

        throw new DataFormatException($"{file.Url}: download failed after {attempts} attempts: {last?.Message}", last);
    }

    private async Task TransferAsync(RemoteFile file, string partial, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, file.Url);
        if (have > 0)
        {
            request.Headers.Range = new RangeHeaderValue(have, null);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            File.Delete(partial);
            throw new IOException($"{file.Url}: the server refused to resume; starting again");
        }

        response.EnsureSuccessStatusCode();
        var resumed = response.StatusCode == HttpStatusCode.PartialContent;
        var total = response.Content.Headers.ContentLength is { } length ? length + (resumed ? have : 0) : (long?)null;
        await using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        await using var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
        var written = resumed ? have : 0;
        var buffer = new byte[1 << 16];
        int read;
        while ((read = await body.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, read), cancel).ConfigureAwait(false);
            written += read;
            progress?.Report(new DownloadProgress(file.FileName, written, total));
        }

        if (total is { } expected && written < expected)
        {
            throw new IOException($"{file.Url}: connection closed after {written} of {expected} bytes");
        }
    }

    /// <summary>The file's checksum in the algorithm that <paramref name="like"/> names (sha256: or md5:).</summary>
    public static string Checksum(string path, string like)
    {
        using var stream = File.OpenRead(path);
        return like.StartsWith("md5:", StringComparison.Ordinal)
            ? "md5:" + Convert.ToHexStringLower(MD5.HashData(stream))
            : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
