/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-bench section 8: protected decode. A 1080p H.264 CENC clip, made with
 * the ffmpeg CLI at bench time, decoded through keyd (libkeyd's decoder
 * calls: keyd decrypts, its sandboxed helper decodes, frames come back as
 * sealed memfds) and, in the same run, by ffmpeg itself
 * (`ffmpeg -decryption_key K -threads N -i enc.mp4 -f null -`, its own
 * -benchmark rtime) with the thread count keyd's helper uses. Target: keyd's
 * fps >= 0.80 x ffmpeg's. Also keyd's memory per open decoder: the helper's
 * resident set plus keyd's own growth, from /proc. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "macro.h"

typedef struct DecodeResults {
        bool ran;
        const char *skipped;       /* why not, when !ran */
        unsigned width, height, frames, threads;
        unsigned runs;
        double keyd_fps, ffmpeg_fps, ratio, ratio_min, ratio_max;  /* fps: the best; ratio: the median */
        uint64_t helper_rss_kib, keyd_growth_kib;
        /* CPU time per frame in microseconds, load-independent unlike fps:
         * the helper, keyd, dbus-daemon and this client; ffmpeg's own. */
        double helper_cpu_us, keyd_cpu_us, bus_cpu_us, client_cpu_us, ffmpeg_cpu_us;
} DecodeResults;

static DecodeResults results;

#if !HAVE_LIBAVFORMAT

void bench_decode(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid) {
        results.skipped = "keyd-bench was built without libavformat";
        printf("8. Protected decode: skipped, %s\n", results.skipped);
}

#else

#include <libavformat/avformat.h>
#include <libavutil/encryption_info.h>
#include <nettle/aes.h>

#define CONTENT_KEY_HEX "2b7e151628aed2a6abf7158809cf4f3c"
#define CONTENT_KID_HEX "000102030405060708090a0b0c0d0e0f"

typedef struct Sample {
        uint8_t *data;
        uint32_t size;
        uint8_t iv[16];
        uint32_t iv_size;
        keyd_subsample_mapping_block *map;
        uint32_t map_size;
        int64_t pts;
} Sample;

typedef struct Clip {
        Sample *samples;
        size_t n;
        AVCodecParameters *par;
} Clip;

/* Run argv with stdout and stderr into log (a file); its exit status. */
static int run_logged(char *const argv[], const char *log) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                bench_die("fork: %m");
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                bench_die("waitpid: %m");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool make_clip(const char *dir, unsigned frames, char *path, size_t path_size, const char **ret_why) {
        char clear[512], log[512], count[32];
        int r;

        snprintf(clear, sizeof(clear), "%s/decode-clear.mp4", dir);
        snprintf(path, path_size, "%s/decode-enc.mp4", dir);
        snprintf(log, sizeof(log), "%s/ffmpeg.log", dir);
        snprintf(count, sizeof(count), "%u", frames);
        r = run_logged((char *[]) { "ffmpeg", "-nostdin", "-y", "-f", "lavfi", "-i",
                                    "testsrc2=size=1920x1080:rate=30", "-frames:v", count, "-c:v", "libx264",
                                    "-preset", "veryfast", "-bf", "2", clear, NULL }, log);
        if (r != 0) {
                *ret_why = r == 127 ? "no ffmpeg" : "ffmpeg cannot encode with libx264";
                return false;
        }
        r = run_logged((char *[]) { "ffmpeg", "-nostdin", "-y", "-i", clear, "-c", "copy", "-encryption_scheme",
                                    "cenc-aes-ctr", "-encryption_key", CONTENT_KEY_HEX, "-encryption_kid",
                                    CONTENT_KID_HEX, path, NULL }, log);
        if (r != 0) {
                *ret_why = "ffmpeg cannot encrypt";
                return false;
        }
        (void) unlink(clear);
        return true;
}

static void read_clip(const char *path, Clip *clip) {
        AVFormatContext *fmt = NULL;
        AVPacket *pkt = av_packet_alloc();
        int index;

        av_log_set_level(AV_LOG_FATAL);
        if (!pkt || avformat_open_input(&fmt, path, NULL, NULL) < 0)
                bench_die("cannot read %s", path);
        index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (index < 0)
                bench_die("%s has no video", path);
        clip->par = avcodec_parameters_alloc();
        if (!clip->par || avcodec_parameters_copy(clip->par, fmt->streams[index]->codecpar) < 0)
                bench_die("out of memory");
        while (av_read_frame(fmt, pkt) >= 0) {
                if (pkt->stream_index == index) {
                        size_t side_size;
                        const uint8_t *side = av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, &side_size);
                        AVEncryptionInfo *info = side ? av_encryption_info_get_side_data(side, side_size) : NULL;
                        Sample *s;

                        if (!info)
                                bench_die("%s: a sample without encryption info", path);
                        clip->samples = realloc(clip->samples, (clip->n + 1) * sizeof(Sample));
                        if (!clip->samples)
                                bench_die("out of memory");
                        s = &clip->samples[clip->n++];
                        *s = (Sample) { .data = xmalloc((size_t) pkt->size), .size = (uint32_t) pkt->size,
                                        .iv_size = MIN(info->iv_size, 16U), .map_size = info->subsample_count,
                                        .pts = pkt->pts };
                        memcpy(s->data, pkt->data, (size_t) pkt->size);
                        memcpy(s->iv, info->iv, s->iv_size);
                        s->map = xmalloc(sizeof(*s->map) * MAX(s->map_size, 1U));
                        for (uint32_t i = 0; i < s->map_size; i++)
                                s->map[i] = (keyd_subsample_mapping_block) { info->subsamples[i].bytes_of_clear_data,
                                                                             info->subsamples[i].bytes_of_protected_data };
                        av_encryption_info_free(info);
                }
                av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        avformat_close_input(&fmt);
}

static void clip_free(Clip *clip) {
        for (size_t i = 0; i < clip->n; i++) {
                free(clip->samples[i].data);
                free(clip->samples[i].map);
        }
        free(clip->samples);
        avcodec_parameters_free(&clip->par);
}

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* keyd's children (its decoder helpers), from /proc: their resident sets
 * (VmRSS) in KiB and the CPU time they used, all threads, in microseconds. */
static void children_usage(pid_t parent, uint64_t *ret_rss_kib, uint64_t *ret_cpu_usec) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        long ticks = sysconf(_SC_CLK_TCK);
        struct dirent *de;
        uint64_t rss = 0, cpu = 0;

        while (d && (de = readdir(d))) {
                char path[300], buf[1024], line[256];
                const char *close_paren;
                unsigned long long utime, stime;
                int ppid = -1;
                FILE *f;

                if (!read_proc_stat(de->d_name, buf, sizeof(buf)))
                        continue;
                close_paren = strrchr(buf, ')');
                if (!close_paren ||
                    sscanf(close_paren + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid, &utime,
                           &stime) != 3 ||
                    ppid != parent)
                        continue;
                cpu += (utime + stime) * USEC_PER_SEC / (uint64_t) (ticks > 0 ? ticks : 100);
                snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        uint64_t kib;
                        if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kib) == 1) {
                                rss += kib;
                                break;
                        }
                }
                fclose(f);
        }
        *ret_rss_kib = rss;
        *ret_cpu_usec = cpu;
}

static uint64_t thread_cpu_usec(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_THREAD, &ru) < 0)
                bench_die("getrusage: %m");
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static unsigned take_frames(keyd_video_decoder *decoder) {
        unsigned n = 0;
        keyd_video_frame *frame;
        HRESULT hr;

        while ((hr = keyd_decoder_get_frame(decoder, &frame)) == KEYD_S_OK) {
                n++;
                keyd_video_frame_release(frame);
        }
        bench_check_hr(hr, "keyd_decoder_get_frame");
        return n;
}

/* Through keyd: every sample, then drain; frames per second of wall time. */
static double decode_through_keyd(const BenchFixture *f, const Clip *clip, pid_t keyd_pid, unsigned *ret_frames,
                                  DecodeResults *res) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        keyd_video_decoder *decoder = NULL;
        uint8_t content_key[16], wrapped[16], exchange[MODULUS_SIZE];
        struct aes128_ctx ecb;
        uint64_t rss_before, start, usec, keyd_cpu, bus_cpu, client_cpu, helper_cpu, helper_rss;
        pid_t bus_pid = find_child_named("dbus-daemon");
        unsigned frames = 0;
        HRESULT hr;

        for (unsigned i = 0; i < 16; i++) {
                unsigned v = 0;
                sscanf(CONTENT_KEY_HEX + 2 * i, "%2x", &v);
                content_key[i] = (uint8_t) v;
        }
        aes128_set_encrypt_key(&ecb, f->session_key);
        aes128_encrypt(&ecb, sizeof(wrapped), wrapped, content_key);

        bench_check_hr(keyd_client_open_address(f->address, &client), "keyd_client_open_address");
        bench_check_hr(keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR,
                                                  &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                                                  &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session),
                       "keyd_create_crypto_session");
        memcpy(exchange, f->wrapped, sizeof(exchange));
        bench_check_hr(keyd_negotiate_crypto_session_key_exchange(session, sizeof(exchange), exchange),
                       "keyd_negotiate_crypto_session_key_exchange");

        rss_before = proc_vmrss_kib(keyd_pid);
        hr = keyd_create_video_decoder(session, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, (uint32_t) clip->par->width,
                                       (uint32_t) clip->par->height, (uint32_t) clip->par->extradata_size,
                                       clip->par->extradata, &decoder);
        if (hr == KEYD_DXGI_ERROR_UNSUPPORTED) {
                res->skipped = "this keyd does not decode (DXGI_ERROR_UNSUPPORTED)";
                keyd_crypto_session_release(session);
                keyd_client_close(client);
                return 0;
        }
        bench_check_hr(hr, "keyd_create_video_decoder");

        keyd_cpu = proc_cpu_usec(keyd_pid);
        bus_cpu = bus_pid > 0 ? proc_cpu_usec(bus_pid) : 0;
        client_cpu = thread_cpu_usec();
        start = now_usec();
        for (size_t i = 0; i < clip->n; i++) {
                const Sample *s = &clip->samples[i];

                bench_check_hr(keyd_decoder_begin_frame(decoder, sizeof(wrapped), wrapped), "keyd_decoder_begin_frame");
                bench_check_hr(keyd_decoder_submit_buffer(decoder, s->size, s->data, s->iv_size, s->iv, s->map_size,
                                                          s->map, s->pts),
                               "keyd_decoder_submit_buffer");
                bench_check_hr(keyd_decoder_end_frame(decoder), "keyd_decoder_end_frame");
                frames += take_frames(decoder);
        }
        bench_check_hr(keyd_decoder_drain(decoder), "keyd_decoder_drain");
        frames += take_frames(decoder);
        usec = now_usec() - start;
        client_cpu = thread_cpu_usec() - client_cpu;
        keyd_cpu = proc_cpu_usec(keyd_pid) - keyd_cpu;
        bus_cpu = bus_pid > 0 ? proc_cpu_usec(bus_pid) - bus_cpu : 0;

        /* The decoder is still open: what it costs while it is. Its helper
         * started with it, so all its CPU time went to this clip. */
        children_usage(keyd_pid, &helper_rss, &helper_cpu);
        res->helper_rss_kib = helper_rss;
        res->keyd_growth_kib = proc_vmrss_kib(keyd_pid) > rss_before ? proc_vmrss_kib(keyd_pid) - rss_before : 0;
        if (frames > 0) {
                res->helper_cpu_us = (double) helper_cpu / frames;
                res->keyd_cpu_us = (double) keyd_cpu / frames;
                res->bus_cpu_us = (double) bus_cpu / frames;
                res->client_cpu_us = (double) client_cpu / frames;
        }

        keyd_video_decoder_release(decoder);
        keyd_crypto_session_release(session);
        keyd_client_close(client);
        explicit_bzero(content_key, sizeof(content_key));
        *ret_frames = frames;
        return usec > 0 ? frames * (double) USEC_PER_SEC / (double) usec : 0;
}

/* ffmpeg's own: -benchmark's rtime, the decoding loop without start-up. */
static double decode_with_ffmpeg(const char *dir, const char *path, unsigned threads, unsigned frames,
                                 double *ret_cpu_us) {
        char log[512], nthreads[16], line[512];
        double rtime = -1, utime = 0, stime = 0;
        FILE *f;
        int r;

        snprintf(log, sizeof(log), "%s/ffmpeg-decode.log", dir);
        snprintf(nthreads, sizeof(nthreads), "%u", threads);
        r = run_logged((char *[]) { "ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-decryption_key",
                                    CONTENT_KEY_HEX, "-threads", nthreads, "-i", (char *) path, "-f", "null", "-",
                                    NULL }, log);
        if (r != 0)
                bench_die("ffmpeg could not decode %s (exit status %d), see %s", path, r, log);
        f = fopen(log, "re");
        if (!f)
                bench_die("cannot read %s: %m", log);
        while (fgets(line, sizeof(line), f)) {
                const char *p = strstr(line, "rtime=");
                if (p)
                        rtime = strtod(p + 6, NULL);
                if ((p = strstr(line, "utime=")))
                        utime = strtod(p + 6, NULL);
                if ((p = strstr(line, "stime=")))
                        stime = strtod(p + 6, NULL);
        }
        fclose(f);
        if (rtime <= 0)
                bench_die("no rtime= in ffmpeg -benchmark's output (%s)", log);
        *ret_cpu_us = (utime + stime) * 1e6 / frames;
        return frames / rtime;
}

/* The libavcodec threads of keyd's helper: --decoder-threads=N given to
 * keyd, else keyd's default, one per online CPU and at most 16
 * (daemon/decode/video-decoder.c). */
static unsigned helper_threads(const BenchOptions *o) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned v;

        for (size_t i = 0; i < o->n_keyd_args; i++)
                if (sscanf(o->keyd_args[i], "--decoder-threads=%u", &v) == 1 && v > 0)
                        return v;
        return (unsigned) MIN(MAX(n, 1L), 16L);
}

void bench_decode(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid) {
        unsigned threads = helper_threads(o);
        const char *dir = getenv("TMPDIR"), *why = NULL;
        unsigned want = o->quick ? 60 : 150, frames = 0;
        char path[512];
        Clip clip = {};
        double keyd_best = 0, ffmpeg_best = 0;
        /* --repeat=N: N pairs; else one (--quick) or two. */
        unsigned runs = MAX(o->repeat, o->quick ? 1u : 2u);

        printf("8. Protected decode: 1920x1080 H.264 CENC, %u frames (testsrc2, libx264 -preset veryfast -bf 2),\n"
               "   through keyd (decrypt + sandboxed helper + sealed-memfd frames) and by ffmpeg -threads %u\n",
               want, threads);
        if (!make_clip(dir ? dir : "/tmp", want, path, sizeof(path), &why)) {
                results.skipped = why;
                printf("   skipped: %s\n", why);
                return;
        }
        read_clip(path, &clip);
        results.width = (unsigned) clip.par->width;
        results.height = (unsigned) clip.par->height;
        results.threads = threads;

        /* Alternate, a ratio per pair, and judge the median of the ratios
         * (as --repeat does for the other targets): the machine may be shared. */
        _cleanup_free_ double *ratios = calloc(runs, sizeof(double));
        if (!ratios)
                bench_die("out of memory");
        for (unsigned i = 0; i < runs; i++) {
                double k = decode_through_keyd(f, &clip, keyd_pid, &frames, &results);

                if (results.skipped) {
                        printf("   skipped: %s\n", results.skipped);
                        clip_free(&clip);
                        return;
                }
                if (frames != want)
                        bench_die("keyd returned %u frames of %u", frames, want);
                double ffmpeg_cpu_us = 0,
                       ff = decode_with_ffmpeg(dir ? dir : "/tmp", path, threads, want, &ffmpeg_cpu_us);

                ratios[i] = ff > 0 ? k / ff : 0;
                printf("   run %u: through keyd %.1f fps, ffmpeg -threads %u %.1f fps: %.3f\n", i + 1, k, threads, ff,
                       ratios[i]);
                keyd_best = MAX(keyd_best, k);
                if (ff > ffmpeg_best) {
                        ffmpeg_best = ff;
                        results.ffmpeg_cpu_us = ffmpeg_cpu_us;
                }
        }
        clip_free(&clip);
        (void) unlink(path);

        results.ran = true;
        results.frames = frames;
        results.runs = runs;
        results.keyd_fps = keyd_best;
        results.ffmpeg_fps = ffmpeg_best;
        results.ratio = median(ratios, runs);  /* sorts */
        results.ratio_min = ratios[0];
        results.ratio_max = ratios[runs - 1];
        printf("   keyd / ffmpeg: median %.3f [%.3f-%.3f] of %u runs (best fps: keyd %.1f, ffmpeg %.1f)\n",
               results.ratio, results.ratio_min, results.ratio_max, runs, keyd_best, ffmpeg_best);
        printf("   memory per open decoder: helper resident %" PRIu64 " KiB + keyd's growth %" PRIu64 " KiB\n",
               results.helper_rss_kib, results.keyd_growth_kib);
        printf("   CPU per frame (load-independent): through keyd %.1f ms (helper %.1f, keyd %.2f, dbus-daemon %.2f,\n"
               "   client %.2f); ffmpeg %.1f ms\n",
               (results.helper_cpu_us + results.keyd_cpu_us + results.bus_cpu_us + results.client_cpu_us) / 1e3,
               results.helper_cpu_us / 1e3, results.keyd_cpu_us / 1e3, results.bus_cpu_us / 1e3,
               results.client_cpu_us / 1e3, results.ffmpeg_cpu_us / 1e3);
        printf("   %s  keyd decode >= 0.80 x ffmpeg's fps at the same thread count: %.3f [%.3f-%.3f]\n\n",
               results.ratio >= 0.80 ? "PASS" : "MISS", results.ratio, results.ratio_min, results.ratio_max);
}

#endif

void bench_decode_print_values(void) {
        if (!results.ran) {
                printf("decode_skipped=%s\n", results.skipped ? results.skipped : "--no-decode");
                return;
        }
        printf("decode_frames=%u\n", results.frames);
        printf("decode_size=%ux%u\n", results.width, results.height);
        printf("decode_threads=%u\n", results.threads);
        printf("decode_keyd_fps=%.1f\n", results.keyd_fps);
        printf("decode_ffmpeg_fps=%.1f\n", results.ffmpeg_fps);
        printf("decode_runs=%u\n", results.runs);
        printf("decode_keyd_over_ffmpeg=%.3f\n", results.ratio);
        printf("decode_keyd_over_ffmpeg_min=%.3f\n", results.ratio_min);
        printf("decode_keyd_over_ffmpeg_max=%.3f\n", results.ratio_max);
        printf("decode_helper_rss_kib=%" PRIu64 "\n", results.helper_rss_kib);
        printf("decode_keyd_growth_kib=%" PRIu64 "\n", results.keyd_growth_kib);
        printf("decode_cpu_helper_us_per_frame=%.0f\n", results.helper_cpu_us);
        printf("decode_cpu_keyd_us_per_frame=%.0f\n", results.keyd_cpu_us);
        printf("decode_cpu_dbus_daemon_us_per_frame=%.0f\n", results.bus_cpu_us);
        printf("decode_cpu_client_us_per_frame=%.0f\n", results.client_cpu_us);
        printf("decode_cpu_ffmpeg_us_per_frame=%.0f\n", results.ffmpeg_cpu_us);
        printf("target_decode=%s\n", results.ratio >= 0.80 ? "PASS" : "MISS");
}
