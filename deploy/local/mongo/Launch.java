// The local stack's MongoDB: mongo-java-server on loopback, run as a single-file program
// (`java -cp 'lib/*' Launch.java HOST PORT [FILE]`). With FILE the data lives in an H2
// MVStore file (persistent across runs); without it, in memory. SIGTERM shuts it down cleanly
// (H2 flushes on close).
import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

public class Launch {
    // 1.47.0's newest ServerVersion (5.0) reports wire version 8; PyMongo >= 4.14 needs 9+.
    // The server implements what the portal uses; wire 13 is what MongoDB 5.0 reports.
    static final MongoVersion MONGO_5_0_WIRE_13 = new MongoVersion() {
        public List<Integer> getVersionArray() {
            return List.of(5, 0, 0);
        }

        public int getWireVersion() {
            return 13;
        }
    };

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        MongoBackend backend = args.length > 2 ? new H2Backend(args[2]) : new MemoryBackend();
        backend.version(MONGO_5_0_WIRE_13);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server listening on " + host + ":" + port);
        Thread.currentThread().join();
    }
}
