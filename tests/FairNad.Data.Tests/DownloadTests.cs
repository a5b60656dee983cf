using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace FairNad.Data.Tests;

/// <summary>A loopback HTTP server that serves one file, optionally cutting the first response short, and records the requests.</summary>
internal sealed class FileServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly byte[] _content;
    private readonly Task _loop;
    private int _cutFirstAfter;

    public FileServer(byte[] content, int cutFirstAfter = 0)
    {
        _content = content;
        _cutFirstAfter = cutFirstAfter;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public string Url { get; }

    public List<string?> Ranges { get; } = [];

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var range = context.Request.Headers["Range"];
            lock (Ranges)
            {
                Ranges.Add(range);
            }

            var start = range is null ? 0 : int.Parse(range["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
            var response = context.Response;
            response.StatusCode = start > 0 ? 206 : 200;
            response.ContentLength64 = _content.Length - start;
            var cut = Interlocked.Exchange(ref _cutFirstAfter, 0);
            try
            {
                if (cut > 0)
                {
                    await response.OutputStream.WriteAsync(_content.AsMemory(start, cut));
                    await response.OutputStream.FlushAsync();
                    response.Abort(); // the connection drops mid-body
                    continue;
                }

                await response.OutputStream.WriteAsync(_content.AsMemory(start));
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away.
            }
        }
    }
}

public sealed class DownloadTests : IDisposable
{
    private static readonly byte[] Content = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 13 % 256)).ToArray();
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-download-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Sha(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    [Fact]
    public async Task Fetch_GoodFile_VerifiedAndRenamedWithProgress()
    {
        using var server = new FileServer(Content);
        using var http = new HttpClient();
        var reports = new List<DownloadProgress>();

        var path = await new Downloader(http).FetchAsync(new RemoteFile(server.Url + "f.gz", "f.gz", Sha(Content)), _directory, new SyncProgress(reports.Add));

        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".partial"));
        Assert.Equal(Content.Length, reports[^1].Bytes);
        Assert.Equal(Content.Length, reports[^1].Total);
    }

    [Fact]
    public async Task Fetch_ChecksumMismatch_DeletesAndReports()
    {
        using var server = new FileServer(Content);
        using var http = new HttpClient();
        var wrong = "sha256:" + new string('0', 64);

        var error = await Assert.ThrowsAsync<DataFormatException>(() => new Downloader(http).FetchAsync(new RemoteFile(server.Url + "f.gz", "f.gz", wrong), _directory));

        Assert.Contains($"expected {wrong}", error.Message);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public async Task Fetch_InterruptedTransfer_ResumesWithRangeRequest()
    {
        using var server = new FileServer(Content, cutFirstAfter: 100_000);
        using var http = new HttpClient();

        var path = await new Downloader(http).FetchAsync(new RemoteFile(server.Url + "f.gz", "f.gz", Sha(Content)), _directory);

        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Null(server.Ranges[0]);
        Assert.Matches(@"^bytes=\d+-$", server.Ranges[^1]);
        Assert.True(server.Ranges.Count >= 2);
    }

    [Fact]
    public async Task Fetch_ExistingFileWithWrongChecksum_RefusesToUseIt()
    {
        File.WriteAllBytes(Path.Combine(_directory, "f.gz"), [1, 2, 3]);
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<DataFormatException>(() => new Downloader(http).FetchAsync(new RemoteFile("http://127.0.0.1:1/f.gz", "f.gz", Sha(Content)), _directory));

        Assert.Contains("exists but its checksum is", error.Message);
    }

    [Fact]
    public async Task Fetch_ServerDown_FailsAfterRetriesNamingUrl()
    {
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<DataFormatException>(() => new Downloader(http, attempts: 2).FetchAsync(new RemoteFile("http://127.0.0.1:9/f.gz", "f.gz", Sha(Content)), _directory));

        Assert.Contains("http://127.0.0.1:9/f.gz: download failed after 2 attempts", error.Message);
    }

    [Fact]
    public async Task Fetch_Md5Checksum_Accepted()
    {
        using var server = new FileServer(Content);
        using var http = new HttpClient();
        var md5 = "md5:" + Convert.ToHexStringLower(MD5.HashData(Content));

        var path = await new Downloader(http).FetchAsync(new RemoteFile(server.Url + "c.tar.gz", "c.tar.gz", md5), _directory);

        Assert.Equal(md5, Downloader.Checksum(path, "md5:"));
    }

    private sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
